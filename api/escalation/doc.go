// Package escalation is the escalation API's contract for bots written in Go: the JSON
// bodies the chat runner reads and answers, the bounds of their fields, the problem
// documents of its errors, and a Client for every call.
//
// The chat runner's server decodes into and encodes these very types, so a bot that uses
// them cannot drift from the wire, and the bounds it can check before sending (Validate)
// are the ones the server enforces. The package depends on the standard library only:
// importing it pulls neither the runner nor Kubernetes into a bot.
//
// The calls, as the README's "Escalation API" section documents them with curl:
//
//	POST   /v1/chats                       Client.Escalate
//	GET    /v1/chats/{id}                  Client.Chat
//	GET    /v1/conversations/{id}          Client.ChatOfConversation
//	DELETE /v1/chats/{id}                  Client.Close
//	POST   /v1/chats/{id}/messages         Client.SendMessage
//	POST   /v1/chats/{id}/typing           Client.Typing
//	POST   /v1/chats/{id}/present          Client.Present
//	POST   /v1/chats/{id}/files            Client.UploadFile (multipart, part "file", streamed)
//	GET    /v1/chats/{id}/files/{fileId}   Client.DownloadFile (a fileUploaded event's URL)
//	GET    /v1/chats/{id}/events           Client.Events (long poll)
//	GET    /v1/chats/{id}/events           Client.Stream (Accept: text/event-stream)
//	GET    /v1/events                      Client.StreamAll (every chat, server-sent events)
//	GET    /v1/openapi.yaml                OpenAPI (this contract as OpenAPI 3.1; no token)
//
// Every call carries the gateway's escalation token as a bearer token; every error answer
// is an RFC 9457 problem (application/problem+json), which the Client returns as a
// *Problem.
package escalation
