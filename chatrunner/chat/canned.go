package chat

import (
	"strings"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Canned message keys, as in spec.cannedMessages.
const (
	CannedConversationClosed      chatv1alpha1.CannedMessageKey = "ConversationClosed"
	CannedWaitingForAgent         chatv1alpha1.CannedMessageKey = "WaitingForAgent"
	CannedAgentJoined             chatv1alpha1.CannedMessageKey = "AgentJoined"
	CannedNoAgentAvailable        chatv1alpha1.CannedMessageKey = "NoAgentAvailable"
	CannedConversationTransferred chatv1alpha1.CannedMessageKey = "ConversationTransferred"
	CannedTechnicalError          chatv1alpha1.CannedMessageKey = "TechnicalError"
	CannedIdleAlert               chatv1alpha1.CannedMessageKey = "IdleAlert"
	CannedIdleClose               chatv1alpha1.CannedMessageKey = "IdleClose"
)

// fallbackLocale is the catalogue every key has.
const fallbackLocale = "en-US"

// catalogue holds the built-in canned messages by locale. "{agent}" stands for the agent's
// display name.
var catalogue = map[string]map[chatv1alpha1.CannedMessageKey]string{
	"en-US": {
		CannedConversationClosed:      "This conversation has been closed.",
		CannedWaitingForAgent:         "Please wait while we connect you to an agent.",
		CannedAgentJoined:             "You are now chatting with {agent}.",
		CannedNoAgentAvailable:        "Sorry, no agent is available right now. Please try again later.",
		CannedConversationTransferred: "The agent has left. You are back with the assistant.",
		CannedTechnicalError:          "Sorry, a technical problem interrupted this conversation.",
		CannedIdleAlert:               "Are you still there? This conversation will close soon unless you reply.",
		CannedIdleClose:               "This conversation was closed because there was no activity.",
	},
	"de-DE": {
		CannedConversationClosed:      "Diese Unterhaltung wurde beendet.",
		CannedWaitingForAgent:         "Bitte warten Sie, wir verbinden Sie mit einem Mitarbeiter.",
		CannedAgentJoined:             "Sie chatten jetzt mit {agent}.",
		CannedNoAgentAvailable:        "Leider ist gerade kein Mitarbeiter verfügbar. Bitte versuchen Sie es später erneut.",
		CannedConversationTransferred: "Der Mitarbeiter hat den Chat verlassen. Sie sind wieder beim Assistenten.",
		CannedTechnicalError:          "Leider hat ein technisches Problem diese Unterhaltung unterbrochen.",
		CannedIdleAlert:               "Sind Sie noch da? Diese Unterhaltung wird bald beendet, wenn Sie nicht antworten.",
		CannedIdleClose:               "Diese Unterhaltung wurde wegen Inaktivität beendet.",
	},
	"fr-FR": {
		CannedConversationClosed:      "Cette conversation est terminée.",
		CannedWaitingForAgent:         "Veuillez patienter, nous vous mettons en relation avec un conseiller.",
		CannedAgentJoined:             "Vous discutez maintenant avec {agent}.",
		CannedNoAgentAvailable:        "Désolé, aucun conseiller n'est disponible pour le moment. Veuillez réessayer plus tard.",
		CannedConversationTransferred: "Le conseiller est parti. Vous êtes de retour avec l'assistant.",
		CannedTechnicalError:          "Désolé, un problème technique a interrompu cette conversation.",
		CannedIdleAlert:               "Êtes-vous toujours là ? Cette conversation sera bientôt fermée si vous ne répondez pas.",
		CannedIdleClose:               "Cette conversation a été fermée faute d'activité.",
	},
	"es-ES": {
		CannedConversationClosed:      "Esta conversación ha finalizado.",
		CannedWaitingForAgent:         "Espere mientras le conectamos con un agente.",
		CannedAgentJoined:             "Ahora está chateando con {agent}.",
		CannedNoAgentAvailable:        "Lo sentimos, no hay ningún agente disponible. Inténtelo más tarde.",
		CannedConversationTransferred: "El agente se ha ido. Vuelve a estar con el asistente.",
		CannedTechnicalError:          "Lo sentimos, un problema técnico interrumpió esta conversación.",
		CannedIdleAlert:               "¿Sigue ahí? Esta conversación se cerrará pronto si no responde.",
		CannedIdleClose:               "Esta conversación se ha cerrado por inactividad.",
	},
}

// Canned returns the canned message of a key in the settings' locale: the spec's override
// first, then the catalogue of the locale, of its language, and of en-US.
func (s *Settings) Canned(key chatv1alpha1.CannedMessageKey, agent string) string {
	text := s.CannedOverrides[key]
	if text == "" {
		text = catalogueText(s.Locale, key)
	}
	return strings.ReplaceAll(text, "{agent}", agent)
}

// catalogueText looks a key up by locale, then by language, then in en-US. Locales
// compare without regard to case, as BCP 47 says.
func catalogueText(locale string, key chatv1alpha1.CannedMessageKey) string {
	lang, _, _ := strings.Cut(locale, "-")
	var byLanguage map[chatv1alpha1.CannedMessageKey]string
	for l, msgs := range catalogue {
		if strings.EqualFold(l, locale) {
			return msgs[key]
		}
		if other, _, _ := strings.Cut(l, "-"); lang != "" && strings.EqualFold(other, lang) {
			byLanguage = msgs
		}
	}
	if byLanguage != nil {
		return byLanguage[key]
	}
	return catalogue[fallbackLocale][key]
}
