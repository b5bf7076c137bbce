package lease

// WithIdentity sets the host name and pid written into claims, so that
// tests can tell holders apart.
var WithIdentity = withIdentity
