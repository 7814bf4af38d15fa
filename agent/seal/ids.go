package seal

// ValidKioskID reports whether id is a kiosk id: 3-64 characters of a-z,
// 0-9 and '-', starting and ending with a letter or digit (the rule of the
// kiosk config's kiosk.id).
func ValidKioskID(id string) bool {
	if len(id) < 3 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(id)-1:
		default:
			return false
		}
	}
	return true
}

// ValidKeyID reports whether id is a key id: 1-64 characters of letters,
// digits, '.', '_' and '-', starting with a letter or digit (the rule of the
// kiosk config's key ids).
func ValidKeyID(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidRecordID reports whether id is a UUID in its canonical text form:
// 36 characters, lowercase hexadecimal digits in groups of 8-4-4-4-12
// separated by '-'. Record ids are UUIDv7; the version is not checked so
// that a node accepts records of any well-formed id.
func ValidRecordID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
