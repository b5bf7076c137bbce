package proto

// RecordedHost is the host name h as the protocols record it in claim
// names and owner records, safe for a file name: characters other than
// ASCII letters, digits, '.', '-' and '_' (including the claim separator
// and '/') become '_'. An empty name becomes "localhost".
func RecordedHost(h string) string {
	if h == "" {
		return "localhost"
	}
	b := []byte(h)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '_':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
