package chat

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func TestNoticeCarriesItsDataBounded(t *testing.T) {
	g := NewWithT(t)
	m := NewManager(Options{Settings: Settings{Locale: "en-US"}})
	c := &chat{events: newEventLog(), agents: map[int]Agent{}}
	system := gms.Participant{Nickname: "system", Type: gms.ParticipantExternal}

	m.apply(c, gms.Event{From: system, Index: 2, Type: gms.EventCustomNotice, Text: "card", UserData: map[string]string{"form": "survey", "id": "42"}})
	m.apply(c, gms.Event{From: system, Index: 3, Type: gms.EventNotice, Text: "plain"})
	long := strings.Repeat("a", maxNoticeDataKeyRunes+1) // first by key: left out, not cut
	big := map[string]string{long: "dropped"}
	for i := range maxNoticeDataEntries + 5 {
		big[fmt.Sprintf("key%02d", i)] = strings.Repeat("é", maxNoticeDataValueRunes+1)
	}
	m.apply(c, gms.Event{From: system, Index: 4, Type: gms.EventNotice, Text: "big", UserData: big})

	evs, _ := c.events.after(0)
	g.Expect(evs).To(HaveLen(3))
	g.Expect(evs[0]).To(And(HaveField("Kind", KindNotice), HaveField("Text", "card"),
		HaveField("Data", Equal(map[string]string{"form": "survey", "id": "42"}))))
	g.Expect(evs[1].Data).To(BeNil(), "no data, no field")
	g.Expect(evs[2].Text).To(Equal("big"))
	g.Expect(evs[2].Data).To(HaveLen(maxNoticeDataEntries))
	g.Expect(evs[2].Data).To(HaveKey("key00"))
	g.Expect(evs[2].Data).NotTo(HaveKey(long))
	g.Expect(evs[2].Data).NotTo(HaveKey(long[:maxNoticeDataKeyRunes]))
	g.Expect(evs[2].Data).NotTo(HaveKey("key" + fmt.Sprint(maxNoticeDataEntries)))
	for k, v := range evs[2].Data {
		g.Expect(len([]rune(k))).To(BeNumerically("<=", maxNoticeDataKeyRunes))
		g.Expect([]rune(v)).To(HaveLen(maxNoticeDataValueRunes))
	}
}
