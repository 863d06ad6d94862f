package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/embed/uselite/internal/weightfile"
)

func TestConvertVocab(t *testing.T) {
	var in strings.Builder
	in.WriteString(`[["<unk>",0],["▁the",-3.56637144089],["://",null],[":30",30]`)
	for range vocabSize - 4 {
		in.WriteString(`,["x",-1e-7]`)
	}
	in.WriteString("]")
	out, err := convertVocab([]byte(in.String()))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	if want := []string{"<unk>\t0", "▁the\t-3.56637144089", "://\t0", ":30\t30", "x\t-1e-07"}; !reflect.DeepEqual(lines[:5], want) {
		t.Errorf("got %q, want %q", lines[:5], want)
	}
	if len(lines) != vocabSize+1 || lines[vocabSize] != "" {
		t.Errorf("%d lines", len(lines))
	}
	for _, bad := range []string{`[["a",0]]`, `{"a":0}`, strings.Replace(in.String(), `"x"`, `"a\tb"`, 1)} {
		if _, err := convertVocab([]byte(bad)); err == nil {
			t.Errorf("convertVocab accepted %.40q", bad)
		}
	}
}

func TestMarshalIndex(t *testing.T) {
	index := weightfile.Index{
		Format: weightfile.Format, Source: pkgSpec, Integrity: integrity, Data: "weights.bin", Size: 12, SHA256: "ab",
		Tensors: []weightfile.Tensor{
			{Name: "a", DType: weightfile.F16, Shape: []int{2, 2}, Offset: 0},
			{Name: "b", DType: weightfile.F32, Shape: []int{1}, Offset: 8},
		},
	}
	b, err := marshalIndex(index)
	if err != nil {
		t.Fatal(err)
	}
	var back weightfile.Index
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v in\n%s", err, b)
	}
	if !reflect.DeepEqual(back, index) {
		t.Errorf("round trip: %+v", back)
	}
	if !strings.Contains(string(b), "\n    {\"name\":\"a\",") {
		t.Errorf("not one line per tensor:\n%s", b)
	}
}

func TestCheckIntegrity(t *testing.T) {
	if err := checkIntegrity([]byte("not the package")); err == nil {
		t.Error("a wrong tarball passed the integrity check")
	}
}
