package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bali-rbdes/kiosk/agent/fac"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// ExportStats counts what Export wrote.
type ExportStats struct {
	Records, Templates, Faces, Images int
}

// Export writes every stored record under dir for inspection:
// dir/KIOSK/RECORD-ID/ holds record.json (metadata, no biometric data),
// finger-NN-POSITION.ist (the ISO/IEC 19794-2 template of each finger),
// finger-NN-POSITION.raw|png|jpg|wsq (the image, when the kiosk's policy
// sent it), face.iso (the ISO/IEC 19794-5 record) and face.jpg (its image,
// when the record decodes). Files are created with mode 0600: they hold
// biometric data.
func (s *Store) Export(ctx context.Context, dir string) (ExportStats, error) {
	var st ExportStats
	rows, err := s.db.QueryContext(ctx, `SELECT id, kiosk_id, record_id, seq, boot_epoch, created_ms, captured_ms, stored_ms, node_id, suite, site, session_id, officer_id, policy, agent_version FROM records ORDER BY id`)
	if err != nil {
		return st, fmt.Errorf("node: listing records to export: %w", err)
	}
	type meta struct {
		pk         int64
		KioskID    string `json:"kiosk_id"`
		RecordID   string `json:"record_id"`
		Seq        int64  `json:"seq"`
		BootEpoch  int64  `json:"boot_epoch"`
		CreatedMs  int64  `json:"created_unix_ms"`
		CapturedMs int64  `json:"captured_unix_ms"`
		StoredMs   int64  `json:"stored_unix_ms"`
		NodeID     string `json:"node_id"`
		Suite      string `json:"suite"`
		Site       string `json:"site"`
		SessionID  string `json:"session_id"`
		OfficerID  string `json:"officer_id"`
		Policy     string `json:"policy"`
		Agent      string `json:"agent_version"`
	}
	var recs []meta
	for rows.Next() {
		var m meta
		if err := rows.Scan(&m.pk, &m.KioskID, &m.RecordID, &m.Seq, &m.BootEpoch, &m.CreatedMs, &m.CapturedMs, &m.StoredMs, &m.NodeID, &m.Suite, &m.Site, &m.SessionID, &m.OfficerID, &m.Policy, &m.Agent); err != nil {
			rows.Close()
			return st, fmt.Errorf("node: reading records to export: %w", err)
		}
		recs = append(recs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("node: reading records to export: %w", err)
	}
	for _, m := range recs {
		rdir := filepath.Join(dir, m.KioskID, m.RecordID)
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			return st, fmt.Errorf("node: creating %s: %w", rdir, err)
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		if err := os.WriteFile(filepath.Join(rdir, "record.json"), append(b, '\n'), 0o600); err != nil {
			return st, fmt.Errorf("node: writing %s: %w", rdir, err)
		}
		if err := s.exportFingers(ctx, m.pk, rdir, &st); err != nil {
			return st, err
		}
		if err := s.exportFace(ctx, m.pk, rdir, &st); err != nil {
			return st, err
		}
		st.Records++
	}
	return st, nil
}

func (s *Store) exportFingers(ctx context.Context, pk int64, rdir string, st *ExportStats) error {
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT idx, position, iso_template, image_format, image FROM templates WHERE record_pk = ? ORDER BY idx`), pk)
	if err != nil {
		return fmt.Errorf("node: reading templates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx, pos, format int
		var tmpl, img []byte
		if err := rows.Scan(&idx, &pos, &tmpl, &format, &img); err != nil {
			return fmt.Errorf("node: reading templates: %w", err)
		}
		name := fmt.Sprintf("finger-%02d-%s", idx, fingerName(pos))
		if len(tmpl) > 0 {
			if err := os.WriteFile(filepath.Join(rdir, name+".ist"), tmpl, 0o600); err != nil {
				return fmt.Errorf("node: writing %s: %w", rdir, err)
			}
			st.Templates++
		}
		if len(img) > 0 {
			ext := map[int]string{1: ".raw", 2: ".png", 3: ".jpg", 4: ".wsq", 5: ".jp2"}[format]
			if ext == "" {
				ext = ".bin"
			}
			if err := os.WriteFile(filepath.Join(rdir, name+ext), img, 0o600); err != nil {
				return fmt.Errorf("node: writing %s: %w", rdir, err)
			}
			st.Images++
		}
	}
	return rows.Err()
}

func (s *Store) exportFace(ctx context.Context, pk int64, rdir string, st *ExportStats) error {
	var iso []byte
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT iso_record FROM faces WHERE record_pk = ?`), pk).Scan(&iso)
	if err == sql.ErrNoRows || len(iso) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node: reading a face record: %w", err)
	}
	if err := os.WriteFile(filepath.Join(rdir, "face.iso"), iso, 0o600); err != nil {
		return fmt.Errorf("node: writing %s: %w", rdir, err)
	}
	st.Faces++
	if r, err := fac.Unmarshal(iso); err == nil && len(r.Images) > 0 && len(r.Images[0].Data) > 0 {
		ext := ".jpg"
		if r.Images[0].DataType == 1 {
			ext = ".jp2"
		}
		if err := os.WriteFile(filepath.Join(rdir, "face"+ext), r.Images[0].Data, 0o600); err != nil {
			return fmt.Errorf("node: writing %s: %w", rdir, err)
		}
		st.Images++
	}
	return nil
}

func fingerName(pos int) string {
	name, ok := rbdesv1.FingerPosition_name[int32(pos)]
	if !ok {
		return fmt.Sprintf("position-%d", pos)
	}
	return name[len("FINGER_POSITION_"):]
}
