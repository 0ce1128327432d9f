//go:build tools

// Package kubebin pins the Kubernetes and etcd commands the project builds from source:
// kube-apiserver and etcd for envtest, the rest for the local cluster.
package kubebin

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
