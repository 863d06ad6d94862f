package storetest

// testLeases: a handle leads a lease it takes, keeps leading it (Lead is
// idempotent), resigns it and takes it again; resigning a lease not held
// is harmless. Exclusion between handles needs two handles on one
// database: the PostgreSQL store tests it (TestLeases); SQLite always leads.
func testLeases(f *fx) {
	lead := func(name string) {
		f.t.Helper()
		ok, err := f.s.Lead(f.ctx, name)
		if err != nil || !ok {
			f.t.Fatalf("Lead(%q) = %v, %v; want true", name, ok, err)
		}
	}
	lead("seal")
	lead("seal")
	lead("sweep")
	f.s.Resign("seal")
	f.s.Resign("seal")
	f.s.Resign("never taken")
	lead("sweep")
	lead("seal")
	f.s.Resign("seal")
	f.s.Resign("sweep")
	lead("seal") // left held: Close releases it
}
