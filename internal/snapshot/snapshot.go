// Package snapshot is the binary format of a tenant's vector index
// snapshot (docs/ARCHITECTURE.md, "Index snapshots"): the entries of one
// key subject, encoded into a chunk that the engine seals under that
// subject's key before it reaches the store. The package neither seals nor
// stores; it encodes, decodes and names the sealing context, so that a
// chunk opens only as the chunk it was written as.
//
// A chunk's plaintext is
//
//	magic "EGVS" | version u8 (1) | dim u32 | count u32 | count × entry
//	entry: id str | user str | agent str | run str | author str |
//	       private u8 | created i64 (Unix µs) | zero bytes to a multiple
//	       of 4 from the chunk's start | dim × f32
//	str: length u16 | bytes
//
// all integers and floats little-endian. Decoding refuses anything else:
// another magic or version, a short or long body, a string past the end.
package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/engram-memory/engram/internal/seal"
)

// Version is the format version this package writes and reads.
const Version = 1

const magic = "EGVS"

// KindVectors names the vector index's snapshots.
const KindVectors = "vectors"

// KindGraph names the HNSW graph snapshotted with a vector snapshot (of
// the same id): one chunk, the graph as vector.Index.EncodeGraph encodes
// it over the vector chunks' entries in order.
const KindGraph = "vectors-graph"

// ErrFormat is returned for a chunk that is not a well-formed version 1
// chunk.
var ErrFormat = errors.New("snapshot: malformed chunk")

// Entry is one memory's vector and what search needs beside it.
type Entry struct {
	ID, UserID, AgentID, RunID string
	AuthorID                   string
	Private                    bool
	Created                    time.Time
	Vector                     []float32
}

// Size returns the encoded size of an entry of dimension dim.
func (e *Entry) size(dim int) int {
	return 2*5 + len(e.ID) + len(e.UserID) + len(e.AgentID) + len(e.RunID) + len(e.AuthorID) + 1 + 8 + 4*dim
}

// Encode returns the chunk holding entries, all of dimension dim. It fails
// on a vector of another dimension or a string longer than 65,535 bytes.
func Encode(dim int, entries []Entry) ([]byte, error) {
	n := len(magic) + 1 + 4 + 4
	for i := range entries {
		if len(entries[i].Vector) != dim {
			return nil, fmt.Errorf("snapshot: entry %d: dimension %d, want %d", i, len(entries[i].Vector), dim)
		}
		n += entries[i].size(dim) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, magic...)
	b = append(b, Version)
	b = binary.LittleEndian.AppendUint32(b, uint32(dim))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for i := range entries {
		e := &entries[i]
		for _, s := range [...]string{e.ID, e.UserID, e.AgentID, e.RunID, e.AuthorID} {
			if len(s) > math.MaxUint16 {
				return nil, fmt.Errorf("snapshot: entry %d: string of %d bytes", i, len(s))
			}
			b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
			b = append(b, s...)
		}
		if e.Private {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Created.UnixMicro()))
		for len(b)%4 != 0 {
			b = append(b, 0) // the vector starts 4-aligned
		}
		for _, f := range e.Vector {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	return b, nil
}

// Decode reads a chunk of dimension dim and calls fn with each entry. The
// entry's Vector is fn's to keep; it shares its memory with b (it is not
// copied) on little-endian machines, so b must outlive it.
func Decode(b []byte, dim int, fn func(*Entry) error) error {
	if len(b) < len(magic)+9 || string(b[:len(magic)]) != magic {
		return ErrFormat
	}
	total := len(b)
	if b[len(magic)] != Version {
		return fmt.Errorf("%w: version %d", ErrFormat, b[len(magic)])
	}
	b = b[len(magic)+1:]
	if d := binary.LittleEndian.Uint32(b); int64(d) != int64(dim) {
		return fmt.Errorf("%w: dimension %d, want %d", ErrFormat, d, dim)
	}
	count := binary.LittleEndian.Uint32(b[4:])
	b = b[8:]
	var (
		e Entry
		// Users, agents, runs and authors repeat from entry to entry: each
		// distinct one is made a string once per chunk.
		seen = map[string]string{"": ""}
		// Ids are unique: they are copied into shared arenas, a string
		// allocation per arena instead of one per id.
		arena []byte
	)
	for range count {
		var strs [5]string
		for j := range strs {
			if len(b) < 2 {
				return ErrFormat
			}
			l := int(binary.LittleEndian.Uint16(b))
			if len(b) < 2+l {
				return ErrFormat
			}
			raw := b[2 : 2+l]
			b = b[2+l:]
			if j > 0 {
				s, ok := seen[string(raw)]
				if !ok && len(seen) < 256 {
					s = string(raw)
					seen[s] = s
				} else if !ok {
					s = string(raw)
				}
				strs[j] = s
				continue
			}
			if l == 0 {
				continue
			}
			if cap(arena)-len(arena) < l {
				arena = make([]byte, 0, max(l, 16<<10))
			}
			at := len(arena)
			arena = append(arena, raw...)
			// The arena's bytes are never written again once appended.
			strs[j] = unsafe.String(&arena[at], l)
		}
		pad := (4 - (total-len(b)+9)%4) % 4
		if len(b) < 1+8+pad+4*dim || b[0] > 1 {
			return ErrFormat
		}
		e = Entry{ID: strs[0], UserID: strs[1], AgentID: strs[2], RunID: strs[3], AuthorID: strs[4], Private: b[0] == 1,
			Created: time.UnixMicro(int64(binary.LittleEndian.Uint64(b[1:]))).UTC()}
		for _, z := range b[9 : 9+pad] {
			if z != 0 {
				return ErrFormat
			}
		}
		b = b[9+pad:]
		e.Vector = floats(b[: 4*dim : 4*dim])
		b = b[4*dim:]
		if err := fn(&e); err != nil {
			return err
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(b))
	}
	return nil
}

// Chunk names one chunk of a snapshot for its sealing context.
type Chunk struct {
	Tenant, Kind, SnapshotID, Subject string
	Gen                               int64  // the tenant's change count the snapshot was taken at
	Model                             string // what made the content
	Seq, Chunks                       int    // its place, and how many there are
}

// Context is the seal context of a chunk: it binds the ciphertext to its
// tenant, subject, snapshot, kind, change count, model and place, so a
// chunk moved to another tenant or snapshot, replayed from an older
// snapshot, reordered or cut off does not open.
func (c Chunk) Context() seal.Context {
	return seal.Context{
		Domain:  "index-snapshot",
		Tenant:  c.Tenant,
		Subject: c.Subject,
		Record:  c.SnapshotID + "/" + strconv.Itoa(c.Seq) + "/" + strconv.Itoa(c.Chunks),
		Field:   c.Kind + "/v" + strconv.Itoa(Version) + "/" + strconv.FormatInt(c.Gen, 10) + "/" + c.Model,
	}
}

// floats returns b (little-endian float32s) as a []float32: b itself
// where the machine is little-endian and b is aligned, else a copy.
func floats(b []byte) []float32 {
	n := len(b) / 4
	if n == 0 {
		return []float32{}
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	v := make([]float32, n)
	for k := range v {
		v[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:]))
	}
	return v
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
