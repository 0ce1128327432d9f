package gmssim

import (
	"slices"
	"time"
)

// Which idle rule ended a chat (chat.endedBy).
const (
	endedByIdleTimeout = "idleTimeout"
	endedByInactivity  = "inactivity"
)

// Stats are figures over the simulator's chats, for load tests: whether every client kept
// its chats polled, as Genesys' idle timeouts require. A gap is the time between two of a
// client's requests on one chat; a live chat's gap still open (from its last request to
// now) counts too, so a chat its client stopped polling shows.
type Stats struct {
	// Chats are all the chats; Live those not ended.
	Chats int `json:"chats"`
	Live  int `json:"live"`
	// EndedByIdleTimeout and EndedByInactivity are the chats ended by the client idle
	// timeout (Options.IdleTimeout) and by Chat Server's inactivity control.
	EndedByIdleTimeout int `json:"endedByIdleTimeout"`
	EndedByInactivity  int `json:"endedByInactivity"`
	// MaxRequestGap is the longest gap of any live chat since the last ResetStats;
	// RequestGapP50 and RequestGapP99 are percentiles of the live chats' longest gaps.
	MaxRequestGap time.Duration `json:"maxRequestGapNanoseconds"`
	RequestGapP50 time.Duration `json:"requestGapP50Nanoseconds"`
	RequestGapP99 time.Duration `json:"requestGapP99Nanoseconds"`
}

// requested records a request of the chat's client at now; called with Simulator.mu held.
func (c *chat) requested(now time.Time) {
	c.maxGap = max(c.maxGap, now.Sub(c.lastRequest))
	c.lastRequest = now
}

// Stats returns the figures at now, after applying the idle rules to every chat.
func (s *Simulator) Stats() Stats {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Chats: len(s.order)}
	gaps := make([]time.Duration, 0, len(s.order))
	for _, c := range s.order {
		s.idle(c, now)
		switch c.endedBy {
		case endedByIdleTimeout:
			st.EndedByIdleTimeout++
		case endedByInactivity:
			st.EndedByInactivity++
		}
		if c.ended {
			continue
		}
		st.Live++
		gaps = append(gaps, max(c.maxGap, now.Sub(c.lastRequest)))
	}
	if len(gaps) > 0 {
		slices.Sort(gaps)
		st.MaxRequestGap = gaps[len(gaps)-1]
		st.RequestGapP50 = gaps[(len(gaps)-1)/2]
		st.RequestGapP99 = gaps[(len(gaps)-1)*99/100]
	}
	return st
}

// ResetStats starts the gaps afresh: each chat's longest gap becomes its gap still open.
func (s *Simulator) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.order {
		c.maxGap = 0
	}
}
