# bench-ratio.awk reads go test -bench output of BenchmarkAppend and
# BenchmarkBboltUpdate (several -count runs) and prints their mean records/s
# and p99 side by side with the ratio outbox/bbolt. Used by make bench-outbox.
/records\/s/ {
	n = $1; sub(/-[0-9]+$/, "", n); split(n, a, "/")
	kind = a[1]; key = a[2] "/" a[3]
	for (i = 2; i <= NF; i++) { if ($i == "records/s") r = $(i-1); if ($i == "p99-ms") p = $(i-1) }
	R[kind, key] += r; P[kind, key] += p; C[kind, key]++; keys[key] = 1
}
END {
	printf "%-26s %13s %8s %13s %8s %7s\n", "appenders/size", "outbox rec/s", "p99 ms", "bbolt rec/s", "p99 ms", "ratio"
	for (k in keys) {
		o = C["BenchmarkAppend", k] ? R["BenchmarkAppend", k] / C["BenchmarkAppend", k] : 0
		op = C["BenchmarkAppend", k] ? P["BenchmarkAppend", k] / C["BenchmarkAppend", k] : 0
		b = C["BenchmarkBboltUpdate", k] ? R["BenchmarkBboltUpdate", k] / C["BenchmarkBboltUpdate", k] : 0
		bp = C["BenchmarkBboltUpdate", k] ? P["BenchmarkBboltUpdate", k] / C["BenchmarkBboltUpdate", k] : 0
		printf "%-26s %13.0f %8.1f %13.0f %8.1f %6.1fx\n", k, o, op, b, bp, (b > 0 ? o / b : 0) | "sort -V"
	}
}
