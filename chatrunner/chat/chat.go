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

	// polling is set while a Refresh Chat of this chat is in flight.
	polling atomic.Bool
	// entry is the chat's place in the schedule (the scheduler's lock guards it).
	entry *entry
	// elem is the chat's place in the manager's active list (the manager's lock).
	elem *list.Element

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
}

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
