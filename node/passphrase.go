package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// EnvKeyPassphrase is the environment variable that holds the passphrase of
// passphrase-encrypted private key files. The passphrase MUST NOT be logged
// or shown.
const EnvKeyPassphrase = "TEARLINE_KEY_PASSPHRASE"

var (
	// ErrPassphraseRequired is returned (wrapped) when a private key file is
	// encrypted and no passphrase was given.
	ErrPassphraseRequired = errors.New("key passphrase required")
	// ErrWrongPassphrase is returned (wrapped) when the passphrase given does
	// not open an encrypted private key file.
	ErrWrongPassphrase = errors.New("wrong key passphrase")
)

// scryptWorkFactor is the age scrypt work factor (log2 of N) of the key
// files this package encrypts: age's default, about a second on a laptop.
// Tests lower it.
var scryptWorkFactor = 18

// ageArmorHeader opens an ASCII-armored age file: how an encrypted private
// key file starts.
const ageArmorHeader = "-----BEGIN AGE ENCRYPTED FILE-----"

// passSource returns the passphrase for encrypted key files, or nil if none
// is available. It is asked at most once per load (see oncePass).
type passSource func() ([]byte, error)

// oncePass wraps p so that a terminal prompt behind it is shown once.
func oncePass(p passSource) passSource {
	if p == nil {
		return nil
	}
	return sync.OnceValues(p)
}

// isEncrypted reports whether a private key file's content is
// passphrase-encrypted.
func isEncrypted(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(ageArmorHeader))
}

// encryptKeyFile encrypts the content of a private key file with an age
// scrypt recipient for passphrase, ASCII-armored so that the file stays
// text.
func encryptKeyFile(plain, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("encrypt key file: %w: the passphrase is empty", ErrPassphraseRequired)
	}
	r, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("encrypt key file: %w", err)
	}
	r.SetWorkFactor(scryptWorkFactor)
	var buf bytes.Buffer
	a := armor.NewWriter(&buf)
	w, err := age.Encrypt(a, r)
	if err != nil {
		return nil, fmt.Errorf("encrypt key file: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("encrypt key file: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt key file: %w", err)
	}
	if err := a.Close(); err != nil {
		return nil, fmt.Errorf("encrypt key file: %w", err)
	}
	return buf.Bytes(), nil
}

// decryptKeyFile opens an encrypted private key file's content with the
// passphrase from pass.
func decryptKeyFile(data []byte, pass passSource) ([]byte, error) {
	var passphrase []byte
	if pass != nil {
		p, err := pass()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPassphraseRequired, err)
		}
		passphrase = p
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("%w: the private key is passphrase-encrypted; set %s or run the command from a terminal to be asked for it",
			ErrPassphraseRequired, EnvKeyPassphrase)
	}
	id, err := age.NewScryptIdentity(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("decrypt key file: %w", err)
	}
	// Refuse work factors far above what this package writes, so that a
	// planted file cannot make startup hang.
	id.SetMaxWorkFactor(22)
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(data)), id)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, fmt.Errorf("%w: it does not open the encrypted private key", ErrWrongPassphrase)
		}
		return nil, fmt.Errorf("decrypt key file: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("decrypt key file (damaged?): %w", err)
	}
	return plain, nil
}
