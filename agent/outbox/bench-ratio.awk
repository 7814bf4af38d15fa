# bench-ratio.awk reads go test -bench output of BenchmarkAppend and
# BenchmarkBboltUpdate (several -count runs) and prints the median
# records/s and p99 of each side by side, with the ratio outbox/bbolt of the
# medians. Used by make bench-outbox. Plain POSIX awk (mawk, gawk).
/records\/s/ {
	n = $1; sub(/-[0-9]+$/, "", n); split(n, a, "/")
	k = a[1] SUBSEP a[2] "/" a[3]
	for (i = 2; i <= NF; i++) { if ($i == "records/s") r = $(i-1); if ($i == "p99-ms") p = $(i-1) }
	c = ++C[k]; R[k, c] = r + 0; P[k, c] = p + 0; keys[a[2] "/" a[3]] = 1
}
function median(A, k, n,    i, j, t, v) {
	for (i = 1; i <= n; i++) v[i] = A[k, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
END {
	printf "%-24s %13s %8s %13s %8s %7s   (medians of %d runs)\n", "appenders/size", "outbox rec/s", "p99 ms", "bbolt rec/s", "p99 ms", "ratio", C["BenchmarkAppend" SUBSEP "appenders=1/size=1KB"]
	for (key in keys) {
		ko = "BenchmarkAppend" SUBSEP key; kb = "BenchmarkBboltUpdate" SUBSEP key
		o = C[ko] ? median(R, ko, C[ko]) : 0; op = C[ko] ? median(P, ko, C[ko]) : 0
		b = C[kb] ? median(R, kb, C[kb]) : 0; bp = C[kb] ? median(P, kb, C[kb]) : 0
		printf "%-24s %13.0f %8.1f %13.0f %8.1f %6.1fx\n", key, o, op, b, bp, (b > 0 ? o / b : 0) | "sort -V"
	}
}
