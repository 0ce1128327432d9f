package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// bareSide carries the chats the way a hand-written poller would: a goroutine and a timer
// per chat, net/http form posts, the envelope decoded into a minimal struct, the transcript
// position tracked. Same schedule as the engine: one Refresh Chat per chat per interval at
// a phase from the chat's id, the next due one interval after the previous due time, a turn
// missed during a slow round trip run late as soon as it ends. It stays on net/http, as a
// hand-written poller would, with the connection pool sizes of the engine's net/http
// transport (gms.NewTransport); the engine polls on fasthttp (gms.NewFastClient).
type bareSide struct {
	meter    *meter
	client   *http.Client
	base     string
	sessions []*bareSession
}

// Session states.
const (
	bareRequesting int32 = iota
	barePolling
	bareFailed
)

type bareSession struct {
	state atomic.Int32
	// Set before state becomes barePolling.
	chatID, userID, secureKey string
	refreshURL                string
	// Owned by the session's goroutine.
	alias string
	pos   int
	// joined is set when the agent's ParticipantJoined arrives; pending while a probe
	// message is on its way.
	joined, pending atomic.Bool
}

// envelope is the part of the Chat API's answer the loop reads.
type envelope struct {
	StatusCode   int    `json:"statusCode"`
	ChatEnded    bool   `json:"chatEnded"`
	ChatID       string `json:"chatId"`
	UserID       string `json:"userId"`
	SecureKey    string `json:"secureKey"`
	Alias        string `json:"alias"`
	NextPosition *int   `json:"nextPosition"`
	Messages     []struct {
		Index int    `json:"index"`
		Type  string `json:"type"`
		Text  string `json:"text"`
		From  struct {
			Type string `json:"type"`
		} `json:"from"`
	} `json:"messages"`
}

func newBareSide(cfg config, m *meter) *bareSide {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 4096, 2048
	return &bareSide{
		meter:    m,
		client:   &http.Client{Transport: t, Timeout: 10 * time.Second},
		base:     "http://" + cfg.simAddr + "/genesys/2/chat/" + serviceName,
		sessions: make([]*bareSession, cfg.chats),
	}
}

func (b *bareSide) open(ctx context.Context, i int) {
	s := &bareSession{}
	b.sessions[i] = s
	go b.run(ctx, s, i)
}

// run requests the chat, then polls it every interval until ctx ends.
func (b *bareSide) run(ctx context.Context, s *bareSession, i int) {
	n := strconv.Itoa(i)
	form := url.Values{
		"firstName": {"User"}, "lastName": {n}, "nickname": {"User " + n}, "subject": {"bench"},
		"emailAddress": {"user" + n + "@example.com"}, "userData[bench]": {"true"}, "userData[Locale]": {"en-US"},
	}
	env, err := b.post(ctx, b.base, form.Encode())
	if err != nil || env.ChatID == "" {
		s.state.Store(bareFailed)
		return
	}
	s.chatID, s.userID, s.secureKey, s.alias, s.pos = env.ChatID, env.UserID, env.SecureKey, env.Alias, 1
	s.refreshURL = b.base + "/" + url.PathEscape(env.ChatID) + "/refresh"
	b.handle(s, env)
	s.state.Store(barePolling)

	var id [8]byte
	_, _ = rand.Read(id[:])
	now := time.Now()
	due := now.Truncate(pollInterval).Add(phase(hex.EncodeToString(id[:]), pollInterval))
	if !due.After(now) {
		due = due.Add(pollInterval)
	}
	t := time.NewTimer(time.Until(due))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		measuring := b.meter.measuring.Load()
		if measuring {
			b.meter.polls.Add(1)
			b.meter.lateness.record(time.Since(due))
		}
		start := time.Now()
		body := url.Values{
			"userId": {s.userID}, "secureKey": {s.secureKey}, "alias": {s.alias},
			"transcriptPosition": {strconv.Itoa(s.pos)},
		}.Encode()
		env, err := b.post(ctx, s.refreshURL, body)
		if measuring {
			b.meter.roundTrip.record(time.Since(start))
			if err != nil {
				b.meter.pollErrors.Add(1)
			}
		}
		if err == nil {
			b.handle(s, env)
		}
		// Like the engine (Manager.firePoll): a turn that fell due while the poll was in
		// flight runs as soon as it ends, late by then, and only the latest such turn runs;
		// the schedule stays on its grid. Skipping it instead would hide a slow round trip
		// from the lateness figures.
		due = due.Add(pollInterval)
		if now := time.Now(); due.Before(now) {
			due = due.Add(now.Sub(due) / pollInterval * pollInterval)
			if b.meter.measuring.Load() {
				b.meter.deferred.Add(1)
			}
		}
		t.Reset(time.Until(due))
	}
}

// post sends a form and decodes the answer's envelope.
func (b *bareSide) post(ctx context.Context, u, body string) (*envelope, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = res.Body.Close() }()
	env := &envelope{}
	err = json.NewDecoder(res.Body).Decode(env)
	_, _ = io.Copy(io.Discard, res.Body)
	switch {
	case err != nil:
		return nil, err
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("HTTP %d", res.StatusCode)
	case env.StatusCode != 0:
		return nil, errors.New("statusCode " + strconv.Itoa(env.StatusCode))
	}
	return env, nil
}

// handle follows the transcript position and the alias, and reads the agent's events.
func (b *bareSide) handle(s *bareSession, env *envelope) {
	if env.Alias != "" {
		s.alias = env.Alias
	}
	if env.NextPosition != nil {
		s.pos = max(s.pos, *env.NextPosition)
	}
	for _, e := range env.Messages {
		if e.From.Type != "Agent" {
			continue
		}
		switch e.Type {
		case "ParticipantJoined":
			s.joined.Store(true)
		case "Message":
			if sent, ok := parseSent(e.Text); ok && s.pending.CompareAndSwap(true, false) && b.meter.measuring.Load() {
				b.meter.message.record(time.Since(sent))
			}
		}
	}
}

func (b *bareSide) established() (ids []string, failed, pending int) {
	for _, s := range b.sessions {
		switch {
		case s == nil:
			failed++
		case s.state.Load() == barePolling:
			ids = append(ids, s.chatID)
		case s.state.Load() == bareFailed:
			failed++
		default:
			pending++
		}
	}
	return ids, failed, pending
}

func (b *bareSide) connected() int {
	n := 0
	for _, s := range b.sessions {
		if s != nil && s.joined.Load() {
			n++
		}
	}
	return n
}

func (b *bareSide) closeIdle() { b.client.CloseIdleConnections() }

func (b *bareSide) probe(_ context.Context, i int, send func(string)) bool {
	s := b.sessions[i]
	if s == nil || !s.joined.Load() || !s.pending.CompareAndSwap(false, true) {
		return false
	}
	send(s.chatID)
	return true
}
