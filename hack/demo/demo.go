package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// totalSteps is the number of numbered steps.
const totalSteps = 12

// record is what a run leaves for its caller to check: every process it started (all
// stopped when run returns) and its work directory (removed unless --keep).
type record struct {
	pids    []int
	workdir string
}

// demo is one run: what it started, for the steps and for the cleanup.
type demo struct {
	o       options
	out     *printer
	sup     *supervisor
	cp      *controlPlane
	sim     *simulator
	hook    *webhookReceiver
	net     *podNetwork
	kubelet *kubelet
	// stopKubelet stops the kubelet stand-in's loop and waits for it.
	stopKubelet func()
	token       string
	conv        *conversation
}

// run runs the demo: the numbered steps, then, unless o.once, waits for ctx to end. It
// stops every process it started and removes its work directory on every path.
func run(ctx context.Context, o options, stdout io.Writer) (rec record, err error) {
	if err := o.resolve(); err != nil {
		return rec, err
	}
	d := &demo{o: o, out: newPrinter(stdout, totalSteps), sup: &supervisor{}}
	rec.workdir = o.workdir
	d.out.raw(fmt.Sprintf("Genesys gateway operator demo: work directory %s\n", o.workdir))
	defer func() {
		if err != nil && ctx.Err() == nil {
			d.printLogTails()
		}
		if cerr := d.cleanup(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		rec.pids = d.sup.startedPIDs()
	}()
	if err := d.steps(ctx); err != nil {
		if ctx.Err() != nil {
			return rec, fmt.Errorf("interrupted: %w", err)
		}
		return rec, err
	}
	if o.once {
		d.out.raw("\nEvery step succeeded (--once): stopping.\n")
		return rec, nil
	}
	d.printUsage()
	<-ctx.Done()
	d.out.raw("\nStopping.\n")
	return rec, nil
}

// steps runs the numbered steps.
func (d *demo) steps(ctx context.Context) error {
	t := d.o.stepTimeout
	steps := []struct {
		title string
		fn    func(context.Context) error
	}{
		{"Starting a local control plane: etcd and kube-apiserver (RBAC on), with the CRDs", d.startControlPlane},
		{"Starting the operator (bin/manager)", d.startOperator},
		{"Starting the GMS simulator (bin/manager gms-simulator)", d.startSimulator},
		{fmt.Sprintf("Creating tenant %s: Secret %s and GenesysGateway %s (deploy: true)", tenantNamespace, gmsSecretName, gatewayName), d.createTenant},
		{"Running the pods of StatefulSet " + gatewayName + "-runner as local processes (no kubelet here)", d.startRunners},
		{"Waiting for the gateway to be Ready", d.waitGatewayReady},
		{"The bot escalates conversation " + conversationID + " to a human agent", d.escalate},
		{"The agent " + agentName + " joins on Genesys and answers", func(ctx context.Context) error { return d.conv.agentAnswers(ctx) }},
		{"The user replies through the bot", func(ctx context.Context) error { return d.conv.userReplies(ctx) }},
		{"The agent closes the chat", func(ctx context.Context) error { return d.conv.agentCloses(ctx) }},
		{"What the cluster shows: kubectl get gg, the chat in the status, the gateway's events", func(ctx context.Context) error { return d.conv.clusterShows(ctx) }},
		{"The bot's webhook got every event of the chat, signed", d.webhookShows},
	}
	for _, s := range steps {
		if err := d.out.step(ctx, t, s.title, s.fn); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) startControlPlane(context.Context) error {
	cp, err := startControlPlane(d.o.assets, d.o.crds, d.o.workdir)
	if err != nil {
		return err
	}
	d.cp = cp
	d.out.printf("kube-apiserver %s, binaries from %s", cp.admin.Host, d.o.assets)
	d.out.printf("CRDs: %s", cp.crdNames())
	d.out.printf("admin kubeconfig: %s", cp.kubeconfig)
	return nil
}

func (d *demo) startOperator(ctx context.Context) error {
	p, err := startOperator(ctx, d.sup, d.o.manager, d.cp, d.o.workdir)
	if err != nil {
		return err
	}
	d.out.printf("pid %d: %s", p.pid(), strings.Join(p.cmd.Args, " "))
	d.out.printf("as the admin (KUBECONFIG=%s), log %s", d.cp.kubeconfig, p.logPath)
	return nil
}

func (d *demo) startSimulator(ctx context.Context) error {
	sim, err := startSimulator(ctx, d.sup, d.o.manager, d.o.workdir)
	if err != nil {
		return err
	}
	d.sim = sim
	d.out.printf("pid %d: %s", sim.proc.pid(), strings.Join(sim.proc.cmd.Args, " "))
	d.out.printf("Chat API %s/genesys/2/chat/, control API %s/sim/, log %s", sim.url, sim.url, sim.proc.logPath)
	return nil
}

func (d *demo) createTenant(ctx context.Context) error {
	hook, err := startWebhookReceiver()
	if err != nil {
		return err
	}
	d.hook = hook
	gw, err := createTenant(ctx, d.cp, d.sim, hook, d.o.replicas)
	if err != nil {
		return err
	}
	spec, err := yaml.Marshal(map[string]any{"spec": gw.Spec})
	if err != nil {
		return fmt.Errorf("rendering the gateway: %w", err)
	}
	d.out.printf("Secret %s/%s: username %s, password (the simulator's)", tenantNamespace, gmsSecretName, gmsUser)
	d.out.printf("GenesysGateway %s:", gatewayKey)
	d.out.block(indent + strings.ReplaceAll(strings.TrimSpace(string(spec)), "\n", "\n"+indent))
	return nil
}

// startRunners starts the kubelet stand-in and waits until every runner is ready.
func (d *demo) startRunners(ctx context.Context) error {
	stsKey := types.NamespacedName{Namespace: tenantNamespace, Name: gatewayName + "-runner"}
	if err := eventually(ctx, "StatefulSet "+stsKey.String(), func(ctx context.Context) error {
		return d.cp.client.Get(ctx, stsKey, &appsv1.StatefulSet{})
	}); err != nil {
		return err
	}
	d.out.printf("the operator created StatefulSet %s (and its ServiceAccount, Role, RoleBinding, Services)", stsKey)
	net, err := startPodNetwork()
	if err != nil {
		return err
	}
	d.net = net
	net.route(webhookHost, d.hook.addr) // the bot's webhook Service
	d.kubelet = newKubelet(d.cp, d.sup, net, d.out, stsKey, d.o.manager, d.o.workdir)
	loopCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.kubelet.run(loopCtx) }()
	d.stopKubelet = func() { cancel(); <-done }

	if err := eventually(ctx, "the first runner", func(context.Context) error {
		if d.kubelet.podSpec(0) == nil {
			return errors.New("not started yet")
		}
		return nil
	}); err != nil {
		return err
	}
	p := d.kubelet.podSpec(0)
	d.out.printf("%s runs as its pod template says: command and args, env with the downward API resolved", p.name)
	d.out.printf("  %s", strings.Join(p.argv[:p.templateArgs], " "))
	d.out.printf("  appended: %s (the last occurrence of a flag wins)", strings.Join(p.argv[p.templateArgs:], " "))
	d.out.printf("  env: %s", strings.Join(p.env, " "))
	d.out.printf("the only differences from a pod: the image's %s is %s; the listen addresses are", imageBinary, d.o.manager)
	d.out.printf("  free loopback ports (the runners share this machine); KUBECONFIG impersonates the pod's")
	d.out.printf("  ServiceAccount instead of its mounted token; HTTP_PROXY stands in for the cluster's DNS,")
	d.out.printf("  so that runners reach each other by their pods' DNS names (%s)", d.net.addr)
	return d.kubelet.waitRolledOut(ctx)
}

// waitGatewayReady waits for Ready=True and reads the escalation token.
func (d *demo) waitGatewayReady(ctx context.Context) error {
	gw := &chatv1alpha1.GenesysGateway{}
	if err := eventually(ctx, "condition Ready=True", func(ctx context.Context) error {
		if err := d.cp.client.Get(ctx, gatewayKey, gw); err != nil {
			return err
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.ReadyCondition)
		if c == nil || c.Status != "True" || gw.Status.ObservedGeneration != gw.Generation {
			return fmt.Errorf("not ready: %v", c)
		}
		return nil
	}); err != nil {
		return err
	}
	tbl, err := d.cp.getGatewaysTable(ctx, tenantNamespace)
	if err != nil {
		return err
	}
	d.out.block(tbl)
	evs, err := d.cp.gatewayEvents(ctx, gw)
	if err != nil {
		return err
	}
	d.out.block(eventsTable(evs))
	secret := &corev1.Secret{}
	key := types.NamespacedName{Namespace: tenantNamespace, Name: gw.Status.EscalationTokenSecretName}
	if err := d.cp.client.Get(ctx, key, secret); err != nil {
		return fmt.Errorf("reading the escalation token Secret named by status.escalationTokenSecretName: %w", err)
	}
	d.token = string(secret.Data[gateway.TokenKey])
	if d.token == "" {
		return fmt.Errorf("Secret %s has no key %s", key, gateway.TokenKey)
	}
	d.out.printf("escalation token: key %s of Secret %s (status.escalationTokenSecretName)", gateway.TokenKey, key)
	return nil
}

// escalate sets up the conversation and plays its first step.
func (d *demo) escalate(ctx context.Context) error {
	apis := d.kubelet.runnerAddrs(gateway.HTTPPort)
	follow := len(apis) - 1 // another runner than the one escalated to, when there are several
	// Long polls wait up to eventsWait; the client's limit is above it.
	hc := &http.Client{Timeout: 30 * time.Second}
	entry := escalation.NewClient("http://"+apis[0], d.token, hc)
	followAPI := entry
	if follow != 0 {
		followAPI = escalation.NewClient("http://"+apis[follow], d.token, hc)
	}
	d.conv = &conversation{
		out: d.out, cp: d.cp,
		entry: entry, entryName: d.kubelet.podSpec(0).name,
		follow: followAPI, followName: d.kubelet.podSpec(follow).name,
		sim: gmssim.NewControlClient(d.sim.url, hc),
	}
	return d.conv.escalate(ctx)
}
