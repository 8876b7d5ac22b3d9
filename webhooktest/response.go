package webhooktest

import (
	"bytes"
	"net/http"
	"strconv"
)

// Response says how a [Receiver] answers one request. The zero Response
// answers 200 with an empty body. The constructors below build the others;
// their Status, Header and Body may be changed afterwards, for instance to
// hang up on a slow body after a 500 instead of a 200.
type Response struct {
	// Status is the status code; zero means 200.
	Status int
	// Header holds headers set on the reply, with names spelled as given.
	Header http.Header
	// Body is the reply's body, or for SlowBody the part sent before it
	// stalls.
	Body []byte

	kind responseKind
	size int64 // HugeBody's length
}

type responseKind int

const (
	kindPlain responseKind = iota
	kindHang
	kindSlow
	kindEndless
	kindHuge
)

// Status answers with the given status code and an empty body.
func Status(code int) Response {
	return Response{Status: code}
}

// Text answers with the given status code and body.
func Text(code int, body string) Response {
	return Response{Status: code, Body: []byte(body)}
}

// RetryAfter answers with the given status code, usually 429 or 503, and a
// Retry-After header holding value: delay seconds ("120") or an HTTP date.
func RetryAfter(code int, value string) Response {
	return Response{Status: code, Header: http.Header{"Retry-After": {value}}}
}

// Redirect answers with the given 3xx status code and a Location header.
func Redirect(code int, location string) Response {
	return Response{Status: code, Header: http.Header{"Location": {location}}}
}

// Hang sends nothing, not even a status line, until the client gives up
// (the request's context is done because the client closed the connection)
// or the Receiver is closed. It never ends on a timer of its own.
func Hang() Response {
	return Response{kind: kindHang}
}

// SlowBody sends a 200 status line and the first bytes of a body at once,
// then stalls: the body never ends until the client goes away or the
// Receiver is closed.
func SlowBody() Response {
	return Response{Status: http.StatusOK, Body: []byte(`{"partial":`), kind: kindSlow}
}

// EndlessBody sends a 200 status line at once, then body bytes for as long
// as the client reads them, until it goes away or the Receiver is closed.
func EndlessBody() Response {
	return Response{Status: http.StatusOK, kind: kindEndless}
}

// HugeBody answers 200 with a body of exactly n bytes, announced in
// Content-Length. The body is generated as it is sent, so n may exceed
// memory.
func HugeBody(n int64) Response {
	return Response{Status: http.StatusOK, kind: kindHuge, size: max(n, 0)}
}

// filler is what EndlessBody and HugeBody send, chunk by chunk.
var filler = bytes.Repeat([]byte("0123456789abcdef"), 2048)

// write answers one request with r. stop is closed when the Receiver
// closes; writing ends then, or when the client goes away.
func (r Response) write(w http.ResponseWriter, req *http.Request, stop <-chan struct{}) {
	ctx := req.Context()
	if r.kind == kindHang {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		return
	}

	for name, values := range r.Header {
		w.Header()[name] = values
	}
	status := r.Status
	if status == 0 {
		status = http.StatusOK
	}
	if r.kind == kindHuge {
		w.Header()["Content-Length"] = []string{strconv.FormatInt(r.size, 10)}
	}
	w.WriteHeader(status)
	if len(r.Body) > 0 {
		if _, err := w.Write(r.Body); err != nil {
			return
		}
	}

	switch r.kind {
	case kindSlow:
		flush(w)
		select {
		case <-ctx.Done():
		case <-stop:
		}
	case kindEndless:
		flush(w)
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			default:
			}
			if _, err := w.Write(filler); err != nil {
				return
			}
		}
	case kindHuge:
		left := r.size
		for left > 0 {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			default:
			}
			n, err := w.Write(filler[:min(left, int64(len(filler)))])
			if err != nil {
				return
			}
			left -= int64(n)
		}
	}
}

// flush sends what has been written so far, the status line included.
func flush(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
}
