package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// pki is the cluster's certificate authority and the files it issued, in <state>/pki.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  crypto.Signer
	caPEM  []byte
	CAFile string
}

// keyPair is an issued certificate and its key, as files and PEM.
type keyPair struct {
	CertFile, KeyFile string
	CertPEM, KeyPEM   []byte
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
}

func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: clusterName + "-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &pki{dir: dir, ca: ca, caKey: k, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	p.CAFile = filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(p.CAFile, p.caPEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), keyPEM, 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// issue signs a certificate for name (files <name>.crt and <name>.key): a client
// certificate for cn in orgs, and a server one too when it has DNS names or IPs.
func (p *pki) issue(name, cn string, orgs []string, dns []string, ips []net.IP) (keyPair, error) {
	k, keyPEM, err := newKey()
	if err != nil {
		return keyPair{}, err
	}
	sn, err := serial()
	if err != nil {
		return keyPair{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	if len(dns) > 0 || len(ips) > 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, k.Public(), p.caKey)
	if err != nil {
		return keyPair{}, err
	}
	kp := keyPair{
		CertFile: filepath.Join(p.dir, name+".crt"),
		KeyFile:  filepath.Join(p.dir, name+".key"),
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:   keyPEM,
	}
	if err := os.WriteFile(kp.CertFile, kp.CertPEM, 0o644); err != nil {
		return keyPair{}, err
	}
	return kp, os.WriteFile(kp.KeyFile, kp.KeyPEM, 0o600)
}

// serviceAccountKeys writes the key pair that signs and verifies service account tokens.
func (p *pki) serviceAccountKeys() (keyFile, pubFile string, err error) {
	k, keyPEM, err := newKey()
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return "", "", err
	}
	keyFile, pubFile = filepath.Join(p.dir, "sa.key"), filepath.Join(p.dir, "sa.pub")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	return keyFile, pubFile, os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

// writeKubeconfig writes a self-contained kubeconfig (JSON, which is YAML) for kp.
func (p *pki) writeKubeconfig(file, user string, kp keyPair) error {
	server := "https://" + net.JoinHostPort(bridgeIP, strconv.Itoa(apiserverPort))
	cfg := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{
			"name":    clusterName,
			"cluster": map[string]any{"server": server, "certificate-authority-data": p.caPEM},
		}},
		"users": []any{map[string]any{
			"name": user,
			"user": map[string]any{"client-certificate-data": kp.CertPEM, "client-key-data": kp.KeyPEM},
		}},
		"contexts": []any{map[string]any{
			"name":    clusterName,
			"context": map[string]any{"cluster": clusterName, "user": user},
		}},
		"current-context": clusterName,
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o600)
}

// clusterCerts are what writeCertificates made: the CA, the apiserver's files, kubelet's
// serving pair and the kubeconfig of each component (and "admin").
type clusterCerts struct {
	pk             *pki
	apiserver      apiserverFiles
	kubeletServing keyPair
	kubeconfigs    map[string]string
}

// writeCertificates makes the cluster's CA, the serving and client certificates and the
// components' kubeconfigs, and up's own HTTP client (an admin client certificate).
func (c *cluster) writeCertificates() (clusterCerts, error) {
	p := c.p
	pk, err := newPKI(p.pki)
	if err != nil {
		return clusterCerts{}, err
	}
	bridge, loop, svc := net.ParseIP(bridgeIP), net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesSvc)
	var f apiserverFiles
	if f.serving, err = pk.issue("apiserver", "kube-apiserver", nil,
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"},
		[]net.IP{bridge, loop, svc}); err != nil {
		return clusterCerts{}, err
	}
	if f.kubeletClient, err = pk.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil); err != nil {
		return clusterCerts{}, err
	}
	if f.saKey, f.saPub, err = pk.serviceAccountKeys(); err != nil {
		return clusterCerts{}, err
	}
	kubeletServing, err := pk.issue("kubelet-serving", "system:node:"+c.st.NodeName, []string{"system:nodes"}, []string{c.st.NodeName}, []net.IP{bridge})
	if err != nil {
		return clusterCerts{}, err
	}
	kubeconfigs := map[string]string{}
	for _, u := range []struct{ name, cn, org string }{
		{"admin", "kubernetes-admin", "system:masters"},
		{"kube-controller-manager", "system:kube-controller-manager", ""},
		{"kube-scheduler", "system:kube-scheduler", ""},
		{"kubelet", "system:node:" + c.st.NodeName, "system:nodes"},
		{"kube-proxy", "system:kube-proxy", ""},
	} {
		var orgs []string
		if u.org != "" {
			orgs = []string{u.org}
		}
		kp, err := pk.issue(u.name, u.cn, orgs, nil, nil)
		if err != nil {
			return clusterCerts{}, err
		}
		file := filepath.Join(p.config, u.name+".kubeconfig")
		if u.name == "admin" {
			file = p.adminKubeconfig
		}
		if err := pk.writeKubeconfig(file, u.cn, kp); err != nil {
			return clusterCerts{}, err
		}
		kubeconfigs[u.name] = file
	}
	admin, err := pk.issue("admin-probe", "kubernetes-admin", []string{"system:masters"}, nil, nil)
	if err != nil {
		return clusterCerts{}, err
	}
	if err := c.httpClient(pk, admin); err != nil {
		return clusterCerts{}, err
	}
	c.logf("certificates and kubeconfigs written to %s", p.pki)
	return clusterCerts{pk: pk, apiserver: f, kubeletServing: kubeletServing, kubeconfigs: kubeconfigs}, nil
}
