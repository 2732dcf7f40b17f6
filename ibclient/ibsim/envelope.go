package ibsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// errorEnvelope is IB's error body; statusCode repeats the HTTP status.
type errorEnvelope struct {
	Error      string `json:"error"`
	StatusCode int    `json:"statusCode,omitempty"`
}

// writeJSON sends v as the JSON body with the given status.
func (s *Server) writeJSON(c *call, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value the handlers send is plain data; this is a bug.
		s.log.Error("encoding response", "path", c.info.path, "error", err)
		status, body = http.StatusInternalServerError, []byte(`{"error":"ibsim: cannot encode response","statusCode":500}`)
	}
	c.w.Header().Set("Content-Type", "application/json;charset=utf-8")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// writeOAuthError sends IB's OAuth-layer envelope,
// {"error":"id: N, error: TEXT","statusCode":S}, with a fresh id.
func (s *Server) writeOAuthError(c *call, status int, text string) {
	msg := "id: " + strconv.FormatInt(s.nextRequestID(), 10) + ", error: " + text
	c.info.errText = msg
	s.writeJSON(c, status, errorEnvelope{Error: msg, StatusCode: status})
}

// writeError sends {"error":TEXT,"statusCode":S}, the form of /iserver
// errors such as "Bad Request: no bridge".
func (s *Server) writeError(c *call, status int, text string) {
	c.info.errText = text
	s.writeJSON(c, status, errorEnvelope{Error: text, StatusCode: status})
}

// writeOrderError sends {"error":TEXT} without statusCode, the form IB
// uses for rejected order submissions.
func (s *Server) writeOrderError(c *call, status int, text string) {
	c.info.errText = text
	s.writeJSON(c, status, map[string]string{"error": text})
}

// writeServerErrorPage sends the HTML page a load balancer in front of
// IB returns for a 5xx, which is what clients meet in practice.
func writeServerErrorPage(w http.ResponseWriter, status int) {
	text := http.StatusText(status)
	if text == "" {
		text = "Server Error"
	}
	body := fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%d %s</title></head><body><h1>%s</h1></body></html>\n", status, text, text)
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
