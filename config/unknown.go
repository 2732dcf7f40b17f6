package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// knownKeys lists every key and table name the config file may contain,
// dotted as toml.Key.String writes them, such as "gateway.ports".
var knownKeys = collectKeys(reflect.TypeFor[Config](), "")

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// collectKeys walks the toml tags of a struct type. A struct field, or a
// slice of structs, is a table whose keys are listed after its name. A
// type that decodes itself from text, such as Duration, is one key.
func collectKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for field := range t.Fields() {
		name, _, _ := strings.Cut(field.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		keys = append(keys, key)

		inner := field.Type
		if inner.Kind() == reflect.Slice {
			inner = inner.Elem()
		}
		if inner.Kind() == reflect.Struct && !reflect.PointerTo(inner).Implements(textUnmarshaler) {
			keys = append(keys, collectKeys(inner, key+".")...)
		}
	}
	return keys
}

// unknownKeysError describes the keys the decoder did not use, each with
// the nearest known key when one is close enough to be a typo. A key
// inside a table that is itself unknown is left out, since the table's
// own entry names the problem.
func unknownKeysError(undecoded []toml.Key) error {
	unknown := map[string]bool{}
	for _, k := range undecoded {
		unknown[k.String()] = true
	}
	var parts []string
	for _, k := range undecoded {
		if len(k) > 1 && unknown[toml.Key(k[:len(k)-1]).String()] {
			continue
		}
		part := k.String()
		if hint := suggestKey(part); hint != "" {
			part += " (" + hint + ")"
		}
		parts = append(parts, part)
	}
	if len(parts) == 1 {
		return fmt.Errorf("unknown key %s; check its spelling against README.md", parts[0])
	}
	return fmt.Errorf("unknown keys %s; check their spelling against README.md", strings.Join(parts, ", "))
}

// suggestKey returns "did you mean KEY?" for the known key nearest to
// unknown, or "" when none is close. Only the last part of each key is
// compared, so that a key put in the wrong table is found too. A key of
// the same table wins a tie, and one of another table names its table.
func suggestKey(unknown string) string {
	table, name := splitKey(unknown)
	limit := min(1+len(name)/6, 3)

	best, bestScore := "", 0
	for _, known := range knownKeys {
		knownTable, knownName := splitKey(known)
		distance := editDistance(name, knownName)
		if distance > limit {
			continue
		}
		// Twice the distance, plus one for another table, so that a
		// closer name always wins and the table only breaks ties.
		score := 2 * distance
		if knownTable != table {
			score++
		}
		if best == "" || score < bestScore {
			best, bestScore = known, score
		}
	}

	knownTable, _ := splitKey(best)
	switch {
	case best == "":
		return ""
	case knownTable == table:
		return "did you mean " + best + "?"
	case knownTable == "":
		return "did you mean " + best + ", above the first table?"
	}
	return fmt.Sprintf("did you mean %s, in the [%s] table?", best, knownTable)
}

// splitKey splits a dotted key into its table and its last part.
func splitKey(key string) (table, name string) {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// editDistance returns the Levenshtein distance between a and b, counted
// in bytes: config keys are ASCII.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}
