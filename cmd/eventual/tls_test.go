package main_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/client"
)

// testCA writes a CA and a certificate it signed for 127.0.0.1 into dir,
// as PEM files, and returns their paths.
func testCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eventual test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// TestServeTLS: --tls-cert and --tls-key serve HTTPS; the Go client
// trusting the test CA (client.LoadCAs) reads through it, a client that
// does not trust it is refused, and the sync replicates to an HTTPS
// target whose CA its configuration names (caFile).
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := testCA(t, dir)
	b := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db"), "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(b.Root, "https://127.0.0.1:") {
		t.Fatalf("root %q, want https", b.Root)
	}
	pool, err := client.LoadCAs(caFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(b.URL, client.Options{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if r, err := c.Do(ctx, &client.Request{Method: "GET", Path: "accounts?$top=1"}); err != nil || r.StatusCode != 200 {
		t.Fatalf("GET over TLS with the CA: %v %v", r, err)
	}
	if _, err := (&http.Client{Timeout: requestTimeout}).Get(b.URL + "accounts"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v, want a certificate error", err)
	}
	if _, err := client.LoadCAs(keyFile); err == nil {
		t.Error("LoadCAs took a file with no certificate")
	}

	a := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "a.db"), "--placeholders", "off")
	hc := newClient(t, requestTimeout)
	id := idFromEntityID(t, must(t, hc, 204, "POST", a.URL+"accounts", map[string]any{"name": "over TLS"}))
	cfg := filepath.Join(dir, "sync.yaml")
	if err := os.WriteFile(cfg, []byte("source: {url: "+a.Root+"}\ntarget: {url: "+b.Root+", caFile: "+caFile+"}\ntables: [{name: account}]\nstate: "+filepath.Join(dir, "sync.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runEventual(t, 60*time.Second, "sync", "--config", cfg, "--once"); code != 0 {
		t.Fatalf("sync to the HTTPS target: exit %d\n%s\n%s", code, out, errOut)
	}
	if r, err := c.Do(ctx, &client.Request{Method: "GET", Path: "accounts(" + id + ")?$select=name"}); err != nil || !strings.Contains(string(r.Body), "over TLS") {
		t.Errorf("the account did not reach the HTTPS target: %v %v", r, err)
	}
}
