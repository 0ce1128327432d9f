// Package gitops holds no code: its tests check the GitOps files beside it (the Argo CD
// health check in Lua, its argocd-cm patch, and the Flux Kustomization sample).
package gitops
