package vector

// cand is a slot and its similarity to the query.
type cand struct {
	sim  float32
	slot uint32
}

// minHeap keeps the worst candidate on top: it is the bounded result set of
// a search (top-k, or the ef best of a graph search).
type minHeap []cand

func (h *minHeap) push(c cand) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].sim <= s[i].sim {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

// pop removes the worst candidate.
func (h *minHeap) pop() cand {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	h.down(0)
	return top
}

// replaceTop swaps the worst candidate for c, which must be better.
func (h *minHeap) replaceTop(c cand) {
	(*h)[0] = c
	h.down(0)
}

func (h minHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].sim < h[l].sim {
			m = r
		}
		if h[i].sim <= h[m].sim {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// offer adds c to a top-k set of capacity k.
func (h *minHeap) offer(c cand, k int) {
	if len(*h) < k {
		h.push(c)
	} else if c.sim > (*h)[0].sim {
		h.replaceTop(c)
	}
}

// maxHeap keeps the best candidate on top: the frontier of a graph search.
type maxHeap []cand

func (h *maxHeap) push(c cand) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].sim >= s[i].sim {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *maxHeap) pop() cand {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	*h = s
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].sim > s[l].sim {
			m = r
		}
		if s[i].sim >= s[m].sim {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	return top
}

// byBest orders candidates best first.
func byBest(a, b cand) int {
	switch {
	case a.sim > b.sim:
		return -1
	case a.sim < b.sim:
		return 1
	}
	return int(a.slot) - int(b.slot)
}
