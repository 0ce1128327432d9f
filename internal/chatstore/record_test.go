package chatstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// fullRecord has every field at its bound, in characters JSON writes as themselves.
func fullRecord() Record {
	ids := make([]string, MaxClientMessages)
	for i := range ids {
		ids[i] = strings.Repeat("m", MaxClientMessageIDBytes)
	}
	return Record{
		ID:             "r19-" + strings.Repeat("f", 16),
		ConversationID: strings.Repeat("c", MaxConversationIDBytes),
		Session: Session{
			ChatID: strings.Repeat("1", MaxSessionFieldBytes), UserID: strings.Repeat("2", MaxSessionFieldBytes),
			SecureKey: strings.Repeat("3", MaxSessionFieldBytes), Alias: strings.Repeat("4", MaxSessionFieldBytes),
		},
		State:              chatv1alpha1.ChatWaitingForAgent,
		Agent:              strings.Repeat("a", MaxAgentBytes),
		AgentEmail:         strings.Repeat("e", MaxAgentBytes),
		RequestTime:        1 << 62,
		WaitingTime:        1 << 62,
		ConnectTime:        1 << 62,
		TranscriptPosition: 1 << 30,
		NextSeq:            1 << 62,
		WebhookDelivered:   1 << 62,
		ClientMessages:     ids,
		LastError:          strings.Repeat("x", MaxErrorBytes),
	}
}

func TestRecordAtEveryBoundFits(t *testing.T) {
	b, err := Encode(fullRecord())
	if err != nil {
		t.Fatalf("a record at every bound: %v", err)
	}
	if len(b) > MaxRecordBytes {
		t.Fatalf("%d bytes, over %d", len(b), MaxRecordBytes)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Session.SecureKey != fullRecord().Session.SecureKey || len(got.ClientMessages) != MaxClientMessages {
		t.Fatalf("round trip lost fields: %+v", got)
	}
}

// TestShardFitsASecret: a shard full of the largest records, keyed by the longest ids, is
// within the API server's limit on a Secret.
func TestShardFitsASecret(t *testing.T) {
	data := map[string][]byte{}
	for i := range ChatsPerShard {
		id := fmt.Sprintf("%s%08d", strings.Repeat("r", MaxIDBytes-8), i)
		data[id] = make([]byte, MaxRecordBytes)
	}
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	if size > MaxSecretBytes {
		t.Fatalf("a full shard is %d bytes, over %d", size, MaxSecretBytes)
	}
}

func TestEncodeRefusesBeyondBounds(t *testing.T) {
	cases := map[string]func(*Record){
		"secure key":      func(r *Record) { r.Session.SecureKey = strings.Repeat("k", MaxSessionFieldBytes+1) },
		"conversation id": func(r *Record) { r.ConversationID = strings.Repeat("c", MaxConversationIDBytes+1) },
		"escaped beyond the record bound": func(r *Record) {
			r.ConversationID = strings.Repeat("\x01", MaxConversationIDBytes)
			r.Agent = strings.Repeat("\x01", MaxAgentBytes)
		},
		"client message ids": func(r *Record) { r.ClientMessages = append(r.ClientMessages, "one-too-many") },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			r := fullRecord()
			mutate(&r)
			_, err := Encode(r)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("want ErrTooLarge, got %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "kkkk") {
				t.Fatal("the error quotes the secure key")
			}
		})
	}
}

func TestDecodeReportsCorruptAndForeignRecords(t *testing.T) {
	good, err := Encode(Record{ID: "r0-1", ConversationID: "c", NextSeq: 1, State: chatv1alpha1.ChatConnected})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"not JSON":       []byte("\x00\x01garbage"),
		"truncated":      good[:len(good)/2],
		"future version": []byte(strings.Replace(string(good), `"v":1`, `"v":2`, 1)),
		"unknown field":  []byte(strings.Replace(string(good), `{`, `{"foreign":true,`, 1)),
		"trailing data":  append(append([]byte{}, good...), []byte(" {}")...),
		"too large":      make([]byte, MaxRecordBytes+1),
		"bad id":         []byte(strings.Replace(string(good), `"id":"r0-1"`, `"id":"../etc"`, 1)),
		"no seq":         []byte(strings.Replace(string(good), `"nextSeq":1`, `"nextSeq":0`, 1)),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(b); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := Decode(good); err != nil {
		t.Fatalf("a good record: %v", err)
	}
}

func TestNamesAndShards(t *testing.T) {
	gw := &chatv1alpha1.GenesysGateway{}
	gw.Name = "acme"
	if got := ShardName(gw, 2, 5); got != "acme-chats-2-5" {
		t.Fatal(got)
	}
	if got := LeaseName(gw, 2); got != "acme-chats-2" {
		t.Fatal(got)
	}
	if o, s, ok := ParseShardName(gw, "acme-chats-12-3"); !ok || o != 12 || s != 3 {
		t.Fatal(o, s, ok)
	}
	for _, bad := range []string{"acme-chats-1", "acme-chats-01-2", "acme-chats-1-x", "other-chats-1-2", "acme-chats--1-2"} {
		if _, _, ok := ParseShardName(gw, bad); ok {
			t.Fatalf("%s parsed", bad)
		}
	}
	if Shards(3000) != 10 || Shards(1) != 1 || Shards(0) != 1 || Shards(150000) != Shards(MaxChatsPerRunner) {
		t.Fatal(Shards(3000), Shards(1), Shards(150000))
	}
	if n := len(ShardNames(gw, 0)); n != Shards(3000) {
		t.Fatalf("defaults: %d shards", n)
	}
}
