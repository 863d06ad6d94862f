package snapshot

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/engram-memory/engram/internal/store"
)

// KindKeywords names the keyword (postings) index's snapshots.
const KindKeywords = "keywords"

const keywordMagic = "EGKS"

// A keyword chunk's plaintext is
//
//	magic "EGKS" | version u8 (1) | count u32 | count × doc
//	doc: id str | user str | agent str | run str | author str | private u8 |
//	     length u32 | postings u32 | postings × (token str | tf u32)
//	str: length u16 | bytes
//
// all integers little-endian. Tokens are blind (fulltext.Blinder), never
// terms.

// EncodeKeywords returns the chunk holding docs. It fails on a string
// longer than 65,535 bytes or a negative length or frequency.
func EncodeKeywords(docs []store.DocPostings) ([]byte, error) {
	n := len(keywordMagic) + 1 + 4
	for i := range docs {
		d := &docs[i]
		n += 5*2 + len(d.MemoryID) + len(d.Scope.UserID) + len(d.Scope.AgentID) + len(d.Scope.RunID) + len(d.AuthorID) + 1 + 8
		for _, p := range d.Postings {
			n += 2 + len(p.Token) + 4
		}
	}
	b := make([]byte, 0, n)
	b = append(b, keywordMagic...)
	b = append(b, Version)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(docs)))
	str := func(i int, s string) error {
		if len(s) > math.MaxUint16 {
			return fmt.Errorf("snapshot: doc %d: string of %d bytes", i, len(s))
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
		return nil
	}
	for i := range docs {
		d := &docs[i]
		for _, s := range [...]string{d.MemoryID, d.Scope.UserID, d.Scope.AgentID, d.Scope.RunID, d.AuthorID} {
			if err := str(i, s); err != nil {
				return nil, err
			}
		}
		b = append(b, boolByte(d.Private))
		if d.DocLen < 0 || int64(d.DocLen) > math.MaxUint32 {
			return nil, fmt.Errorf("snapshot: doc %d: length %d", i, d.DocLen)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(d.DocLen))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(d.Postings)))
		for _, p := range d.Postings {
			if err := str(i, string(p.Token)); err != nil {
				return nil, err
			}
			if p.TF < 0 || int64(p.TF) > math.MaxUint32 {
				return nil, fmt.Errorf("snapshot: doc %d: frequency %d", i, p.TF)
			}
			b = binary.LittleEndian.AppendUint32(b, uint32(p.TF))
		}
	}
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// DecodeKeywords reads a keyword chunk and calls fn with each doc. The
// doc's tokens share memory with b (they are not copied), so b must
// outlive them. It refuses anything but a well-formed version 1 chunk.
func DecodeKeywords(b []byte, fn func(*store.DocPostings) error) error {
	if len(b) < len(keywordMagic)+5 || string(b[:len(keywordMagic)]) != keywordMagic {
		return ErrFormat
	}
	if b[len(keywordMagic)] != Version {
		return fmt.Errorf("%w: version %d", ErrFormat, b[len(keywordMagic)])
	}
	count := binary.LittleEndian.Uint32(b[len(keywordMagic)+1:])
	b = b[len(keywordMagic)+5:]
	bytesOf := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		l := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, false
		}
		s := b[2 : 2+l : 2+l]
		b = b[2+l:]
		return s, true
	}
	var d store.DocPostings
	for range count {
		var strs [5]string
		for j := range strs {
			s, ok := bytesOf()
			if !ok {
				return ErrFormat
			}
			strs[j] = string(s)
		}
		if len(b) < 9 || b[0] > 1 {
			return ErrFormat
		}
		d = store.DocPostings{MemoryID: strs[0], AuthorID: strs[4], Private: b[0] == 1,
			DocLen: int(binary.LittleEndian.Uint32(b[1:]))}
		d.Scope.UserID, d.Scope.AgentID, d.Scope.RunID = strs[1], strs[2], strs[3]
		np := binary.LittleEndian.Uint32(b[5:])
		b = b[9:]
		if uint64(np)*6 > uint64(len(b)) {
			return ErrFormat
		}
		d.Postings = make([]store.Posting, np)
		for k := range d.Postings {
			tok, ok := bytesOf()
			if !ok || len(b) < 4 {
				return ErrFormat
			}
			d.Postings[k] = store.Posting{Token: tok, TF: int(binary.LittleEndian.Uint32(b))}
			b = b[4:]
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(b))
	}
	return nil
}
