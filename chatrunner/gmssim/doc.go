// Package gmssim simulates the Genesys Mobile Engagement (GMS) Chat API version 2 (see
// /work/shared/spec/gms-chat-v2.md): the response envelope, transcript semantics and session
// triple checks of a real GMS, plus a control API that plays the agent side, fault injection
// and request recording. A *Simulator is an http.Handler: mount it in an httptest.Server for
// tests, or run it standalone with Main (the gms-simulator subcommand) for a demo.
//
// # Routes
//
//   - {ContextPath}{serviceName}: Request Chat.
//   - {ContextPath}{serviceName}/{chatId}/{path}: the operations of gms.SessionOperations, plus
//     file (upload), file/{fileId}/download and file/{fileId}/delete. Options.Overrides replaces
//     the last segment of an operation's path (file/limits becomes file/<override>); the default path is then not served for that operation (404). An override of
//     requestChat is ignored.
//   - /sim/...: the control API (see below). It is never behind BasicAuth.
//
// Every Chat API operation is a POST with an application/x-www-form-urlencoded body (Request
// Chat and file upload also accept multipart/form-data); query parameters are accepted too.
// Another method answers 405, an unknown path 404, a body that does not parse 400; all with a
// JSON envelope of statusCode 2 and errors. With BasicAuth set, missing or wrong credentials
// answer 401 with a WWW-Authenticate header, before anything else happens (no fault consumed).
//
// # Order of checks for a request
//
//  1. Route (404), method (405), basic auth (401). The request is recorded (Requests), also when
//     refused.
//  2. Faults: the first injected fault whose Op and ChatID match is consumed and applies.
//     httpStatus, reset, status1, status2 and malformedJSON answer at once without touching the
//     chat (status2 with ChatEnded does end it; status2 without it is the documented "the chat
//     may have ended" in the case where it did not, and leaves the chat going); delay waits,
//     then the request goes on normally;
//     aliasChange, omitNextPosition and duplicateLast shape the normal answer; lostAnswer
//     processes the request normally and then closes the connection without the answer
//     (an assumption: a timeout or reset after GMS did the work, which any network can do).
//  3. Required parameters: missing nickname (or firstName and lastName) on Request Chat, missing
//     userId, secureKey or alias, message on send, pushUrl on pushUrl, nickname on
//     updateNickname, or a transcriptPosition that is not a non-negative integer: HTTP 400,
//     statusCode 2, an error whose advice names the parameter.
//  4. The session: an unknown chat id answers statusCode 2, chatEnded true, error 8201. Then the
//     idle timeout is evaluated (below). A wrong alias answers statusCode 1, error 102 ("alias …
//     is not the current Chat Server") with no alias in the answer and no side effect. A wrong
//     userId answers statusCode 2, error 8201; the chat goes on. A wrong secureKey answers
//     statusCode 2, chatEnded true, error 8210: the client is removed at once (ParticipantLeft of
//     the client) and the chat ends. A request that passes these checks updates the chat's
//     LastRequest; a fault that answers at once does not.
//  5. An ended chat: the first Refresh after the end answers statusCode 0, chatEnded true and the
//     events from transcriptPosition (so the client sees the agent's last words and the end);
//     every later call, and any other operation, answers statusCode 2, chatEnded true, error 8209.
//     An answer that already told the client about the end (Disconnect, a wrong secureKey, a
//     status2 fault with ChatEnded) counts as that first delivery.
//
// # Answers
//
// Every answer is application/json, a gms.Response: statusCode always; chatId, userId and alias
// of the chat (the secureKey only on Request Chat); chatEnded true once the chat has ended.
// Request Chat answers the first event (ParticipantJoined of the Client, participantId 1,
// nickname the nickname or "First Last") and nextPosition 2, unless
// Options.OmitNextPositionOnRequest. Event times (utcTime) are epoch milliseconds of
// Options.Clock.
//
// Refresh and Send return the transcript delta for transcriptPosition p: the events with index
// >= p and nextPosition = last index + 1; when there is none, nextPosition is p. Without
// transcriptPosition, or with 0, no events are returned (the spec's assumed reading) and
// nextPosition is the end of the transcript (last index + 1). The other operations answer
// neither messages nor nextPosition.
//
// Client operations append to the transcript: send a Message (messageType echoed), startTyping
// and stopTyping TypingStarted and TypingStopped (text: the optional message preview), pushUrl a
// PushUrl, customNotice a CustomNotice, updateNickname a NicknameUpdated from the new nickname
// (the chat's nickname changes), disconnect a ParticipantLeft of the client (the chat ends,
// statusCode 0, chatEnded true). updateData merges userData; readReceipt only answers
// statusCode 0. The file operations are below.
//
// # Files
//
// Every chat has a file store in memory: the client's uploads and the agents' files. All
// files of all chats together are bounded by Options.MaxFileStore (DefaultMaxFileStore);
// an upload request's body by the file size limit plus 1 MiB (its parts beyond 1 MiB spill
// to temporary files while it is parsed, never more than that in memory per request).
// Options.FileLimits (DefaultFileLimits) sets the limits.
//
//   - file/limits answers statusCode 0 and, in messages, one Notice from the client without
//     index whose text is "file-client-cfg-get" and whose userData holds the limits as
//     strings: upload-max-files, upload-max-file-size, upload-max-total-size,
//     upload-need-agent ("true"/"false"), upload-file-types (colon-separated extensions),
//     download-attempts, delete-file, and the counters used-upload-max-files,
//     used-upload-max-total-size, used-download-attempts. A limit FileLimits sets to 0
//     (none) is left out. The transcript is not touched.
//   - file (upload): multipart/form-data with the session triple and a part "file" (its
//     filename and Content-Type kept). Checked in this order, each refusal statusCode 2
//     with one error and nothing stored: no file part (400), need-agent while no agent is
//     in the chat (409), an extension not in upload-file-types (415), a file over
//     upload-max-file-size (413), upload-max-files reached (413), upload-max-total-size
//     exceeded (413), the simulator's store full (507). Accepted: a FileUploaded event
//     from the client (text: the file id; userData file-id, file-name, file-size,
//     file-type) and an answer whose top-level userData holds file-id.
//   - file/{fileId}/download: the file's bytes with its Content-Type, Content-Length and
//     Content-Disposition attachment; filename=...; any file of the chat (the client's or
//     an agent's). An unknown file (404) or download-attempts used up (413) answers the
//     JSON envelope, statusCode 2.
//   - file/{fileId}/delete: the client's own file goes, with a FileDeleted event from the
//     client (text and userData file-id); an agent's file or an unknown one is refused
//     (statusCode 2).
//
// AgentFile (and POST /sim/chats/{id}/file) has the current agent send a file: stored like an
// upload (not counted against the client's upload limits), it shows as a FileUploaded event
// from the agent with the same text and userData.
//
// Where this comes from. Documented (Genesys' Chat API v2 docs, as condensed in
// gms-chat-v2.md): the four operations and their paths, multipart with the part "file",
// the session triple. From Genesys' own clients (GMSLibrary, its sample app and widgets,
// and a recorded answer in a public SDK): the limits' shape (a Notice "file-client-cfg-get"
// without index, from the client, in messages; its keys; all values strings; "true"/"false"),
// the upload answer's top-level userData["file-id"], FileUploaded's userData["file-name"],
// and that clients hand a FileUploaded's userData to the application as the file's
// metadata. Assumed: FileUploaded's text being the file id and its userData keys file-id,
// file-size and file-type; the error codes and the order of the upload checks; that
// limits are enforced by the server at all (Genesys' clients check them first);
// statusCode 2 for every refusal; the download's headers; FileDeleted's shape; that agents'
// files do not count against the client's limits; the default limits but the 10 MiB file
// size.
//
// # Idle timeout and inactivity control
//
// Two idle rules, both off by default, both evaluated lazily with Options.Clock (on each
// request of the chat, each snapshot and each agent-side call), so a fake clock drives them;
// when both are due, the one whose deadline falls first applies.
//
// Options.IdleTimeout is the GMS client timeout (flex-disconnect-timeout): a chat whose client
// made no request for longer than the timeout is ended by the server with an IdleClose event
// from External, dated LastRequest + IdleTimeout. Polling keeps it away. Documented: the
// timeout; assumed: that it shows as an IdleClose event (Genesys documents a logout, 8209).
//
// Options.InactivityAlert and InactivityClose are Chat Server's inactivity control, as its docs
// describe the inactivity-control options timeout-alert (default 255 s) and timeout-close
// (default 45 s): a chat without activity for InactivityAlert gets an IdleAlert from External
// (text: the default message-alert), dated the last activity + InactivityAlert; without
// activity for InactivityClose more, an IdleClose (text: the default message-close) and the
// chat ends. Activity restarts both, and a later quiet spell gets a new IdleAlert. Polling is
// no activity. Documented: the two timeouts, that a participant joining or leaving and a
// message count as activity, the alert-then-close order. Assumed: notices and typing do not
// count (include-notices unset), and the events come from External. Exactly the timeout is
// not past it, as for IdleTimeout.
//
// # Agent side
//
// AgentJoin, AgentMessage, AgentTyping, AgentPushURL, AgentFile, AgentLeave, Transfer, Notice and
// Close play the agent. Agents get participant ids from 2 on; External events (notices, IdleAlert, IdleClose) come
// from {nickname "system", type External}. The current agent is the last one who joined and has
// not left. Transfer without a current agent only joins the new one; Close makes every agent
// present leave, then ends the chat.
//
// # Control API
//
// JSON over HTTP; errors are application/problem+json with a "detail".
//
//	GET    /sim/chats                 the Chat snapshots (never the secureKey)
//	GET    /sim/chats/{id}            one Chat
//	POST   /sim/chats/{id}/join       {"nickname","email"}    -> the Chat
//	POST   /sim/chats/{id}/message    {"text"}
//	POST   /sim/chats/{id}/typing     {"typing":bool}
//	POST   /sim/chats/{id}/push       {"url"}
//	POST   /sim/chats/{id}/leave
//	POST   /sim/chats/{id}/transfer   {"nickname","email"}
//	POST   /sim/chats/{id}/notice     {"text"}
//	POST   /sim/chats/{id}/close
//	POST   /sim/chats/{id}/file       {"fileName","contentType","data":base64}
//	GET    /sim/faults                the active faults, with their ids
//	POST   /sim/faults                a Fault -> {"id":n}
//	DELETE /sim/faults
//	GET    /sim/requests              the recorded requests, secrets redacted
//	DELETE /sim/requests
//	GET    /sim/stats                 Stats: live chats, chats the idle rules ended, request gaps
//	DELETE /sim/stats                 start the request gaps afresh
//
// An unknown chat is 404, an ended chat or an agent action without an agent 409. In
// /sim/requests the secureKey form value and the Authorization and Proxy-Authorization headers
// read "<redacted>"; Requests() in Go returns them as received.
//
// Secrets (secure keys, passwords) never appear in logs or error strings.
package gmssim
