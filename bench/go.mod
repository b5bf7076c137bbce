module github.com/nfslease/nfslease/bench

go 1.26.0

require (
	github.com/gofrs/flock v0.13.2
	github.com/nfslease/nfslease v0.0.0
	golang.org/x/sys v0.50.0
)

require github.com/cenkalti/backoff/v4 v4.3.0 // indirect

// The harness measures the working tree it sits in.
replace github.com/nfslease/nfslease => ../
