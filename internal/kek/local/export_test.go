package local

// Test hooks. Compiled into this package's tests only, so production code
// cannot reach the cheap parameters.

// cheapSealOptions is argon2id at 64 KiB and 1 pass: fast enough for many
// opens per test, and far below the production floor.
var cheapSealOptions = sealOptions{
	params: argonParams{memory: 64, time: 1, threads: 1},
	floor:  argonParams{memory: 8, time: 1, threads: 1},
}

// OpenOrCreateWithPassphraseCheap is OpenOrCreateWithPassphrase with
// cheapSealOptions.
func OpenOrCreateWithPassphraseCheap(path string, passphrase []byte) (*KEK, error) {
	return openOrCreateWithPassphrase(path, passphrase, cheapSealOptions)
}

// ParseKeyFile parses a key file's text and formats it back.
func ParseKeyFile(text string) (string, error) {
	f, err := parseKeyFile(text)
	if err != nil {
		return "", err
	}
	return f.format(), nil
}
