package d1

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Statements names the package's SQL texts as JavaScript finds them in
// [JSModule]: each name is its Go name.
func Statements() [][2]string {
	return [][2]string{
		{"ObjectSchema", ObjectSchema},
		{"ObjectEventColumns", ObjectEventColumns},
		{"ObjectInstance", ObjectInstance},
		{"ObjectInstanceKey", ObjectInstanceKey},
		{"ObjectPutInstance", ObjectPutInstance},
		{"ObjectSetState", ObjectSetState},
		{"ObjectAddEvent", ObjectAddEvent},
		{"ObjectAllEvents", ObjectAllEvents},
		{"ObjectEventByID", ObjectEventByID},
		{"ObjectEvents", ObjectEvents},
		{"ObjectEventsPage", ObjectEventsPage},
		{"ObjectUnforwarded", ObjectUnforwarded},
		{"ObjectSetPosition", ObjectSetPosition},
		{"ObjectAddIdempotency", ObjectAddIdempotency},
		{"ObjectIdempotency", ObjectIdempotency},
		{"ObjectIdempotencyExpire", ObjectIdempotencyExpire},
		{"ObjectIdempotencyOldest", ObjectIdempotencyOldest},
		{"ObjectAddOutbox", ObjectAddOutbox},
		{"ObjectOutboxDue", ObjectOutboxDue},
		{"ObjectOutboxNextDue", ObjectOutboxNextDue},
		{"ObjectOutboxRetry", ObjectOutboxRetry},
		{"ObjectOutboxRemove", ObjectOutboxRemove},
		{"ObjectForwardingFailures", ObjectForwardingFailures},
		{"ObjectForwardingSet", ObjectForwardingSet},
		{"ObjectForwardingClear", ObjectForwardingClear},
		{"ObjectHeldKeys", ObjectHeldKeys},
		{"ObjectHoldKey", ObjectHoldKey},
		{"ObjectReleaseKey", ObjectReleaseKey},
		{"KeyHolder", KeyHolder},
		{"KeySetHolder", KeySetHolder},
		{"EventColumns", EventColumns},
		{"Forward", Forward},
		{"Positions", Positions},
		{"EventsAfter", EventsAfter},
		{"ReadAll", ReadAll},
		{"Head", Head},
		{"DeadLetterAdd", DeadLetterAdd},
		{"DeadLetterList", DeadLetterList},
		{"DeadLetterGet", DeadLetterGet},
		{"DeadLetterRemove", DeadLetterRemove},
	}
}

// JSModule is [Statements] and MaxForward as an ES module, header first:
// `export const Forward = "...";`, one per line.
func JSModule(header string) []byte {
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "export const MaxForward = %d;\n", MaxForward)
	migrations, _ := json.Marshal(ObjectMigrations)
	fmt.Fprintf(&b, "export const ObjectMigrations = %s;\n", migrations)
	for _, s := range Statements() {
		text, _ := json.Marshal(s[1]) // a JSON string is a JavaScript string
		fmt.Fprintf(&b, "export const %s = %s;\n", s[0], text)
	}
	return []byte(b.String())
}
