package vector

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Graph persistence. A loaded index's HNSW graph costs a build of many
// CPU-seconds at 100,000 vectors (and searches scan until it is done), so
// a snapshot of the index can carry the graph and its calibration, and a
// load that adds the snapshot's vectors installs it instead of building
// one. Nodes are numbered by their place in a list of ids (the order the
// snapshot holds the vectors in); a load adds the vectors in that order to
// an empty index, so node i is slot i. The encoding is
//
//	magic "EGVG" | version u8 (1) | dim u32 | nodes u32 | ids sha256 [32] |
//	m u8 | ef u32 | recall f64 | entry u32 | top level u8 |
//	nodes × level u8 |
//	per node, per layer 0..level: count u8 | count × node u32
//
// little-endian. The digest covers the ids in order (each as length u32 |
// bytes), so a graph installs only over the very vectors it was built on.
// Tombstones (removed vectors the graph still routed through) are left out
// with the links to them, and so are links of a node to itself (which a
// build on several goroutines may make, and a decoder skips).

const (
	graphMagic   = "EGVG"
	graphVersion = 1
	graphHeader  = len(graphMagic) + 1 + 4 + 4 + sha256.Size + 1 + 4 + 8 + 4 + 1
)

// ErrGraph is returned by Fill.Graph for an encoded graph that is
// malformed or does not match the index's vectors; the index then builds
// its graph as usual.
var ErrGraph = errors.New("vector: graph does not match the index")

// idsDigest is the digest of ids in order.
func idsDigest(ids []string) [sha256.Size]byte {
	h := sha256.New()
	var n [4]byte
	for _, id := range ids {
		binary.LittleEndian.PutUint32(n[:], uint32(len(id)))
		h.Write(n[:])
		_, _ = io.WriteString(h, id)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// EncodeGraph returns the index's graph and calibration with nodes
// numbered by their place in ids, which must be the index's live ids (in
// any order); nil when the index serves no graph (it is exact, or its
// first graph is still being built) or ids are not its live ids.
func (x *Index) EncodeGraph(ids []string) []byte {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.g
	if g == nil || x.closed || len(ids) == 0 || len(ids) != x.live {
		return nil
	}
	ord := make([]int32, len(g.levels))
	for i := range ord {
		ord[i] = -1
	}
	slots := make([]uint32, len(ids))
	for i, id := range ids {
		s, ok := x.byID[id]
		if !ok || !x.alive[s] || !g.has(s) || ord[s] >= 0 {
			return nil
		}
		ord[s], slots[i] = int32(i), s
	}
	// The entry: the graph's, unless it is a tombstone; then a live node
	// of the highest level.
	entry, top := -1, -1
	if g.entry >= 0 && ord[g.entry] >= 0 {
		entry, top = int(ord[g.entry]), int(g.levels[g.entry])
	} else {
		for i, s := range slots {
			if l := int(g.levels[s]); l > top {
				entry, top = i, l
			}
		}
	}
	n := graphHeader + len(ids)
	for _, s := range slots {
		n += 1 + 4*int(g.l0n[s]) + int(g.levels[s])*(1+4*g.m)
	}
	b := make([]byte, 0, n)
	b = append(b, graphMagic...)
	b = append(b, graphVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(x.dim))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
	d := idsDigest(ids)
	b = append(b, d[:]...)
	b = append(b, byte(g.m))
	b = binary.LittleEndian.AppendUint32(b, uint32(x.cal.ef))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x.cal.recall))
	b = binary.LittleEndian.AppendUint32(b, uint32(entry))
	b = append(b, byte(top))
	for _, s := range slots {
		b = append(b, byte(g.levels[s]))
	}
	for _, s := range slots {
		for l := 0; l <= int(g.levels[s]); l++ {
			at := len(b)
			b = append(b, 0)
			k := 0
			for _, t := range g.links(s, l) {
				if o := ord[t]; o >= 0 && t != s {
					b = binary.LittleEndian.AppendUint32(b, uint32(o))
					k++
				}
			}
			b[at] = byte(k)
		}
	}
	return b
}

// loadGraph installs an encoded graph over the vectors a load added: the
// index must hold exactly the graph's ids, added in its order, and no
// graph yet.
func (x *Index) loadGraph(b []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	if x.g != nil || x.building {
		return fmt.Errorf("%w: the index has a graph", ErrGraph)
	}
	if len(b) < graphHeader || string(b[:len(graphMagic)]) != graphMagic {
		return fmt.Errorf("%w: not an encoded graph", ErrGraph)
	}
	if v := b[len(graphMagic)]; v != graphVersion {
		return fmt.Errorf("%w: version %d", ErrGraph, v)
	}
	p := b[len(graphMagic)+1:]
	dim, nodes := int(binary.LittleEndian.Uint32(p)), int(binary.LittleEndian.Uint32(p[4:]))
	p = p[8:]
	if dim != x.dim {
		return fmt.Errorf("%w: dimension %d, want %d", ErrGraph, dim, x.dim)
	}
	if nodes != x.live || nodes != len(x.ids) || nodes == 0 {
		return fmt.Errorf("%w: %d nodes for %d vectors in %d slots", ErrGraph, nodes, x.live, len(x.ids))
	}
	if d := idsDigest(x.ids); string(d[:]) != string(p[:sha256.Size]) {
		return fmt.Errorf("%w: other ids", ErrGraph)
	}
	p = p[sha256.Size:]
	m := int(p[0])
	ef := int(binary.LittleEndian.Uint32(p[1:]))
	recall := math.Float64frombits(binary.LittleEndian.Uint64(p[5:]))
	entry := int64(binary.LittleEndian.Uint32(p[13:]))
	top := int(p[17])
	p = p[18:]
	if m != x.opts.M {
		return fmt.Errorf("%w: M %d, want %d", ErrGraph, m, x.opts.M)
	}
	if ef < 1 || ef > efGrid[len(efGrid)-1] || !(recall >= 0 && recall <= 1) || entry >= int64(nodes) || top > maxLevelCap {
		return fmt.Errorf("%w: bad header", ErrGraph)
	}
	if len(p) < nodes {
		return fmt.Errorf("%w: truncated", ErrGraph)
	}
	g := newGraph(x.dim, x.opts, x.opts.Seed^0x5851f42d4c957f2d)
	g.grow(nodes)
	upLen := 0
	for i, l := range p[:nodes] {
		if int(l) > maxLevelCap {
			return fmt.Errorf("%w: level %d", ErrGraph, l)
		}
		g.levels[i] = int8(l)
		if l > 0 {
			g.upOff[i] = int32(upLen)
			upLen += int(l) * (g.m + 1)
		}
	}
	if int(g.levels[entry]) != top {
		return fmt.Errorf("%w: entry not on the top level", ErrGraph)
	}
	p = p[nodes:]
	g.up = make([]uint32, upLen)
	for i := range nodes {
		for l := 0; l <= int(g.levels[i]); l++ {
			if len(p) < 1 {
				return fmt.Errorf("%w: truncated", ErrGraph)
			}
			k, maxK := int(p[0]), g.m
			if l == 0 {
				maxK = g.m0
			}
			if k > maxK || len(p) < 1+4*k {
				return fmt.Errorf("%w: links", ErrGraph)
			}
			var dst []uint32
			if l == 0 {
				dst = g.l0[i*g.m0 : i*g.m0+k]
			} else {
				at := int(g.upOff[i]) + (l-1)*(g.m+1)
				dst = g.up[at+1 : at+1+k]
			}
			kept := 0
			for j := range k {
				t := binary.LittleEndian.Uint32(p[1+4*j:])
				if int(t) >= nodes || int(g.levels[t]) < l {
					return fmt.Errorf("%w: link", ErrGraph)
				}
				if int(t) != i { // a concurrent build may link a node to itself
					dst[kept] = t
					kept++
				}
			}
			if l == 0 {
				g.l0n[i] = uint8(kept)
			} else {
				g.up[int(g.upOff[i])+(l-1)*(g.m+1)] = uint32(kept)
			}
			p = p[1+4*k:]
		}
	}
	if len(p) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrGraph, len(p))
	}
	g.entry, g.maxLevel, g.nodes = entry, top, nodes
	x.install(g, calibration{ef: ef, recall: recall, ok: true})
	return nil
}
