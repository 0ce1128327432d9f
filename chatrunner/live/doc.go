// Package live is a chat runner's live view of its GenesysGateway and of the Secrets and
// ConfigMaps the gateway references (gateway.References), so that the runner applies
// changes, such as a rotated password, without restarting.
//
// A Watcher watches each object on its own, with a list and watch of exactly that name
// (field selector metadata.name) in the gateway's namespace: the runner's Role names its
// objects (resourceNames), and such a Role allows list and watch only that way. When the
// gateway's references change, the Watcher starts watching the new names and stops
// watching the names no longer referenced.
//
// Secret data is held in memory, as the runner needs it, but never logged or reported.
package live
