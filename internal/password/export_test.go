package password

// Hold takes one of h's slots until release is called, so a test can
// show that an operation waits for a slot (and so is bounded like the
// others).
func (h *Hasher) Hold() (release func()) {
	h.sem <- struct{}{}
	return h.release
}
