package controllers_test

import (
	"bytes"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
)

var _ = Describe("config/samples", func() {
	It("are accepted by the API server as they are shipped", func() {
		namespace := newNamespace()
		files, err := filepath.Glob(filepath.Join("..", "config", "samples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		created := 0
		for _, file := range files {
			if filepath.Base(file) == "kustomization.yaml" {
				continue
			}
			data, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			decoder := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
			for {
				u := &unstructured.Unstructured{}
				if err := decoder.Decode(&u.Object); err != nil {
					break
				}
				if len(u.Object) == 0 {
					continue
				}
				u.SetNamespace(namespace)
				Expect(k8sClient.Create(ctx, u)).To(Succeed(), "%s: %s %s", file, u.GetKind(), u.GetName())
				created++
			}
		}
		Expect(created).To(BeNumerically(">=", 5))
	})
})
