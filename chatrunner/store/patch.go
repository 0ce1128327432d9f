package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// changes are a shard's changes not yet written: one entry per chat, the record to write
// or nil to remove it. One entry per chat keeps memory bounded however long the API
// server refuses the writes.
type changes map[string][]byte

// merge puts older changes back under newer ones: after a failed write its batch returns
// to the pending changes, where a Put made meanwhile must win.
func (c changes) merge(older changes) {
	for id, v := range older {
		if _, newer := c[id]; !newer {
			c[id] = v
		}
	}
}

// effective returns the changes that would alter content: a Put of the record already
// written and a Remove of a chat never written are dropped.
func (c changes) effective(content map[string][]byte) changes {
	out := changes{}
	for id, v := range c {
		old, ok := content[id]
		switch {
		case v == nil && !ok:
		case v != nil && ok && bytes.Equal(old, v):
		default:
			out[id] = v
		}
	}
	return out
}

// apply returns content with the changes made, leaving content as it is: the writer
// keeps what it last wrote until the API server confirms the next write.
func apply(content map[string][]byte, c changes) map[string][]byte {
	out := maps.Clone(content)
	if out == nil {
		out = map[string][]byte{}
	}
	for id, v := range c {
		if v == nil {
			delete(out, id)
		} else {
			out[id] = v
		}
	}
	return out
}

// patchBody is the JSON merge patch of one write: the resourceVersion the writer last
// saw (so the API server refuses the write if the Secret changed since, the fence), the
// number of chats the shard holds afterwards (read by the operator from metadata alone)
// and the changed data keys, null for a removed chat.
func patchBody(resourceVersion string, chats int, c changes) ([]byte, error) {
	data := make(map[string]any, len(c))
	for id, v := range c {
		if v == nil {
			data[id] = nil
		} else {
			data[id] = v // []byte: base64, as a Secret's data wants
		}
	}
	body := map[string]any{
		"metadata": map[string]any{
			"resourceVersion": resourceVersion,
			"annotations":     map[string]string{chatstore.AnnotationChats: strconv.Itoa(chats)},
		},
		"data": data,
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding the chat store patch: %w", err)
	}
	return b, nil
}

// sameData reports whether a shard's data is exactly some content.
func sameData(data, content map[string][]byte) bool {
	return maps.EqualFunc(data, content, bytes.Equal)
}
