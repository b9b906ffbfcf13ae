package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/synth"
)

func newBenchEnvelopeCmd(e *env) *cobra.Command {
	var objects int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "envelope [--objects N]",
		Short: "Sealing and opening envelopes: objects per second, per batch size",
		Long: `Seal N synthetic objects of about 1 KB into envelopes of 1, 100 and 1,000
objects for one recipient, then open them with full verification (signature,
key unwrap, decryption, every object's content hash and Merkle leaf), on one
goroutine, and report objects per second each way.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := benchItems(objects)
			if err != nil {
				return err
			}
			_, sk, err := ed25519.GenerateKey(nil)
			if err != nil {
				return err
			}
			kem := hpke.MLKEM768X25519()
			rk, err := kem.GenerateKey()
			if err != nil {
				return err
			}
			pub := sk.Public().(ed25519.PublicKey)
			signer := envelope.Signer{Code: "GBR", KeyID: node.KeyID(pub), Key: sk}
			pubBytes := rk.PublicKey().Bytes()
			to := []envelope.Recipient{{Code: "FRA", KeyID: node.KeyID(pubBytes), Key: rk.PublicKey()}}
			resolve := func(sender, id string) (ed25519.PublicKey, error) { return pub, nil }
			type row struct {
				Batch      int     `json:"batch"`
				SealPerSec float64 `json:"sealed_objects_per_second"`
				OpenPerSec float64 `json:"opened_objects_per_second"`
			}
			var rows []row
			for _, size := range []int{1, 100, 1000} {
				var sealed [][]byte
				seq := uint64(0)
				start := time.Now()
				for i := 0; i+size <= len(items); i += size {
					seq++
					env, err := envelope.Seal(&envelope.Batch{Sequence: seq, Items: items[i : i+size]}, signer, to, rand.Reader, time.Now())
					if err != nil {
						return err
					}
					sealed = append(sealed, env)
				}
				sealTime := time.Since(start)
				n := len(sealed) * size
				guard := &envelope.MemoryReplayGuard{}
				start = time.Now()
				for _, env := range sealed {
					if _, err := envelope.Open(env, "FRA", to[0].KeyID, rk, resolve, guard); err != nil {
						return fmt.Errorf("open: %w", err)
					}
				}
				openTime := time.Since(start)
				rows = append(rows, row{size, float64(n) / sealTime.Seconds(), float64(n) / openTime.Seconds()})
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(rows)
			}
			fmt.Fprintf(e.stdout, "scenario envelope: %s objects of about 1 KB, one recipient, one goroutine (%d CPUs)\n", groupDigits(len(items)), runtime.NumCPU())
			fmt.Fprintf(e.stdout, "%8s %16s %16s\n", "batch", "sealed/s", "opened/s")
			for _, r := range rows {
				fmt.Fprintf(e.stdout, "%8d %16s %16s\n", r.Batch, groupDigits(int(r.SealPerSec)), groupDigits(int(r.OpenPerSec)))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&objects, "objects", 20000, "objects to seal and open per batch size")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}

// benchItems makes n objects of about 1 KB: synthetic indicators padded
// with a description.
func benchItems(n int) ([]envelope.Item, error) {
	var data bytes.Buffer
	g := synth.New(1)
	items := make([]envelope.Item, 0, n)
	pad := bytes.Repeat([]byte("Assessment withheld pending partner review. "), 12)
	for len(items) < n {
		data.Reset()
		raw := g.Next()
		if !bytes.HasPrefix(raw, []byte(`{"type":"indicator"`)) {
			continue
		}
		data.Write(raw[:len(raw)-1])
		fmt.Fprintf(&data, `,"description":%q}`, pad)
		obj, _, err := stix.Parse(bytes.Clone(data.Bytes()))
		if err != nil {
			return nil, err
		}
		items = append(items, envelope.Item{Object: obj, LabelHash: sha256.Sum256([]byte(obj.ID))})
	}
	return items, nil
}
