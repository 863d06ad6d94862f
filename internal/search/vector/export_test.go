package vector

// WaitBuild blocks until no background build is running on x.
func WaitBuild(x *Index) {
	for {
		x.mu.RLock()
		building, done := x.building, x.done
		x.mu.RUnlock()
		if !building {
			return
		}
		<-done
	}
}

// Storage returns x's whole vector storage, including spare capacity, so a
// test can check that removed and closed vectors are zeroed.
func Storage(x *Index) []float32 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.data[:cap(x.data)]
}
