package chat

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// chat is one escalated conversation. Its fields are guarded by mu, but for the ones set
// at creation.
type chat struct {
	id         string
	escalation Escalation

	// probe is set on a chat let through while every agent was out of service: its Request
	// Chat tells whether Genesys answers again.
	probe bool

	// polling is set while a Refresh Chat of this chat is in flight; deferred is the due
	// time (Unix nanoseconds) of the latest turn that came meanwhile, 0 when none.
	polling  atomic.Bool
	deferred atomic.Int64
	// entry is the chat's place in the schedule (the scheduler's lock guards it).
	entry *entry
	// elem is the chat's place in the manager's active list (the manager's lock).
	elem *list.Element

	// store is where the chat's durable record lives: the store of a runner ordinal (the
	// one that created the chat, whoever owns it now) and a shard of it; shard < 0 when
	// the manager has no store.
	store placement
	// gone closes when the chat leaves this runner for another owner (a hand-over, a lost
	// Lease): waits on its events end, and the reader asks again, reaching the new owner.
	gone chan struct{}
	// away is set (under mu) once the chat left: nothing may touch it any more.
	away bool
	// committed closes once a new chat's first record write is decided, commitErr (set
	// before) its failure: a duplicate escalation meanwhile waits for it rather than answer
	// with a chat that may yet be forgotten. nil for a chat taken over (already durable).
	committed chan struct{}
	commitErr error

	mu          sync.Mutex
	state       chatv1alpha1.ChatState
	session     *gms.Session
	transcript  *gms.Transcript
	slot        int // the escalation agent carrying the chat
	agent       Agent
	requestTime time.Time
	connectTime time.Time
	endTime     time.Time
	endReason   chatv1alpha1.ChatEndReason
	lastError   string
	idleClosed  bool
	// agents are the agents that joined, by Genesys participant id.
	agents map[int]Agent
	events eventLog

	// waitingTime is when Genesys answered Request Chat: the time of the first notice.
	waitingTime time.Time
	// clientMessages are the bot's most recent client message ids (a bounded window).
	clientMessages []string
	// sending holds a token while one of the chat's user messages is being sent (see
	// sendTurn); made on first use.
	sending chan struct{}
	// fileLimits are Genesys' file limits of the chat as read at fileLimitsAt (zero: not
	// read), kept fileLimitsTTL and counted up by this runner's uploads.
	fileLimits   gms.FileLimits
	fileLimitsAt time.Time
	// webhookDelivered is the highest seq the webhook receiver took.
	webhookDelivered int64
	// replayTo is, on a chat resumed from its record, the number of events its previous
	// owner had derived: events up to it are derived again from the transcript with the
	// same seq, and are not reported to observers a second time.
	replayTo int64
	// saved is what the record last put into the store says, to skip puts that change
	// nothing.
	saved savedMark
}

// over reports whether the engine is done with a chat: it ended, or it left this runner;
// called with c.mu held.
func (c *chat) over() bool { return c.away || terminal(c.state) }

// view returns the chat as the API shows it; called with c.mu held.
func (c *chat) view() View {
	v := View{
		ID:             c.id,
		ConversationID: c.escalation.ConversationID,
		State:          c.state,
		Agent:          c.agent,
		RequestTime:    c.requestTime,
		ConnectTime:    c.connectTime,
		EndTime:        c.endTime,
		EndReason:      c.endReason,
		LastError:      c.lastError,
	}
	if c.session != nil {
		v.GenesysChatID = c.session.ChatID
	}
	return v
}

// status returns the chat's status entry; called with c.mu held.
func (c *chat) status() chatv1alpha1.ChatStatus {
	v := c.view()
	return chatv1alpha1.ChatStatus{
		ID:             v.ID,
		ConversationID: v.ConversationID,
		GenesysChatID:  v.GenesysChatID,
		State:          v.State,
		Agent:          v.Agent.Name,
		RequestTime:    timeOrNil(v.RequestTime),
		ConnectTime:    timeOrNil(v.ConnectTime),
		EndTime:        timeOrNil(v.EndTime),
		EndReason:      v.EndReason,
		LastError:      v.LastError,
	}
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}
