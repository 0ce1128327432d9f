package gmssim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func TestConcurrentUse(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	const chats, rounds = 16, 25
	var wg sync.WaitGroup
	errs := make(chan string, chats*rounds*4)
	for i := range chats {
		wg.Go(func() {
			form := url.Values{gms.ParamNickname: {"c" + strconv.Itoa(i)}}
			res, err := c.srv.Client().PostForm(c.base+testService, form)
			if err != nil {
				errs <- err.Error()
				return
			}
			var resp gms.Response
			_ = json.NewDecoder(res.Body).Decode(&resp)
			_ = res.Body.Close()
			s := session{chatID: resp.ChatID, userID: resp.UserID, secureKey: resp.SecureKey, alias: resp.Alias}
			if err := c.sim.AgentJoin(s.chatID, Agent{Nickname: "a"}); err != nil {
				errs <- err.Error()
			}
			next := 1
			for r := range rounds {
				_ = c.sim.AgentMessage(s.chatID, "m"+strconv.Itoa(r))
				_ = c.sim.Chats()
				for _, op := range []string{"send", "refresh"} {
					res, err := c.srv.Client().PostForm(c.base+testService+"/"+s.chatID+"/"+op, url.Values{
						gms.ParamUserID: {s.userID}, gms.ParamSecureKey: {s.secureKey}, gms.ParamAlias: {s.alias},
						gms.ParamMessage: {"x"}, gms.ParamTranscriptPosition: {strconv.Itoa(next)},
					})
					if err != nil {
						errs <- err.Error()
						continue
					}
					var resp gms.Response
					_ = json.NewDecoder(res.Body).Decode(&resp)
					_ = res.Body.Close()
					if resp.StatusCode != gms.StatusOK || resp.NextPosition == nil {
						errs <- op + ": status " + strconv.Itoa(resp.StatusCode)
						continue
					}
					if len(resp.Messages) > 0 && resp.Messages[0].Index != next {
						errs <- op + ": first index " + strconv.Itoa(resp.Messages[0].Index) + ", want " + strconv.Itoa(next)
					}
					next = *resp.NextPosition
				}
			}
			if next != 3+2*rounds {
				errs <- "next position " + strconv.Itoa(next)
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []string
	for e := range errs {
		all = append(all, e)
	}
	g.Expect(all).To(BeEmpty())
	g.Expect(c.sim.Chats()).To(HaveLen(chats))
}

// BenchmarkRefresh10kChats polls 10,000 open chats round robin through ServeHTTP.
func BenchmarkRefresh10kChats(b *testing.B) {
	sim := New(Options{IdleTimeout: 0, MaxRecordedRequests: 10000})
	const n = 10000
	bodies := make([]string, n)
	paths := make([]string, n)
	for i := range n {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, DefaultContextPath+testService, strings.NewReader("nickname=u"+strconv.Itoa(i)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sim.ServeHTTP(rec, req)
		var resp gms.Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.StatusCode != 0 {
			b.Fatalf("request chat: %v %s", err, rec.Body)
		}
		if err := sim.AgentJoin(resp.ChatID, Agent{Nickname: "a"}); err != nil {
			b.Fatal(err)
		}
		paths[i] = DefaultContextPath + testService + "/" + resp.ChatID + "/refresh"
		bodies[i] = url.Values{gms.ParamUserID: {resp.UserID}, gms.ParamSecureKey: {resp.SecureKey},
			gms.ParamAlias: {resp.Alias}, gms.ParamTranscriptPosition: {"2"}}.Encode()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, paths[i%n], strings.NewReader(bodies[i%n]))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
		}
		i++
	}
}
