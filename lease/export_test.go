package lease

// WithIdentity sets the host name and pid written into claims, so that
// tests can tell holders apart.
var WithIdentity = withIdentity

// WithProcs sets the process table the lease records its identity from
// and judges local holders by.
var WithProcs = withProcs
