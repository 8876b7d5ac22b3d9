package webhooktest

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Go's server rewrites header names into canonical form ("X-Stratakit-
// Delivery") before a handler sees them. To record names as they were
// spelled on the wire, the Receiver's listener hands the server connections
// that keep a copy of the bytes read, and the handler parses the header
// block of its request out of that copy. HTTP/1.x handles one request at a
// time per connection, so the header blocks come in the order of the
// requests; the body of each request is skipped before the next block.

// HeaderField is one header line as it was received.
type HeaderField struct {
	Name  string
	Value string
}

// tapListener hands out tapConns.
type tapListener struct {
	net.Listener
}

func (l tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c}, nil
}

// tapConn keeps the bytes read from a connection, from the start of the
// header block of the next request not yet parsed.
type tapConn struct {
	net.Conn

	mu      sync.Mutex
	buf     []byte
	skip    int64 // bytes of the current request's body still to drop
	chunked bool  // the current request's body is chunked, dropped later
	broken  bool  // the stream could not be parsed; record no more
}

type tapConnKey struct{}

// withTapConn is the server's ConnContext: it lets handlers find the
// connection of their request.
func withTapConn(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tapConn); ok {
		return context.WithValue(ctx, tapConnKey{}, tc)
	}
	return ctx
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if !c.broken {
			c.buf = append(c.buf, p[:n]...)
			c.dropBody()
		}
		c.mu.Unlock()
	}
	return n, err
}

// dropBody drops the known-length body of the current request as it
// arrives. The caller holds c.mu.
func (c *tapConn) dropBody() {
	k := min(c.skip, int64(len(c.buf)))
	c.buf = c.buf[k:]
	c.skip -= k
}

// rawHeader returns the header lines of r as received on the wire, or nil
// if they cannot be found. It must be called once per request, from its
// handler, before the body is read.
func rawHeader(r *http.Request) []HeaderField {
	c, ok := r.Context().Value(tapConnKey{}).(*tapConn)
	if !ok || r.ProtoMajor != 1 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		return nil
	}

	// The previous request's chunked body has been read in full by now:
	// the server reads it before it reads this request.
	if c.chunked {
		n, ok := chunkedLen(c.buf)
		if !ok {
			c.fail()
			return nil
		}
		c.buf = c.buf[n:]
		c.chunked = false
	}
	fields, n, ok := parseHeaderBlock(c.buf)
	if !ok {
		c.fail()
		return nil
	}
	c.buf = c.buf[n:]
	if len(r.TransferEncoding) > 0 {
		c.chunked = true
	} else if r.ContentLength > 0 {
		c.skip = r.ContentLength
		c.dropBody()
	}
	return fields
}

// fail stops recording on a connection whose stream did not parse.
func (c *tapConn) fail() {
	c.broken = true
	c.buf = nil
}

// parseHeaderBlock parses a request line and its header lines from the
// start of b, after any empty lines, and returns the header fields and the
// length of the block.
func parseHeaderBlock(b []byte) (fields []HeaderField, n int, ok bool) {
	// The request line.
	for {
		line, next, ok := cutLine(b, n)
		if !ok {
			return nil, 0, false
		}
		n = next
		if len(line) > 0 {
			break
		}
	}
	fields = []HeaderField{}
	for {
		line, next, ok := cutLine(b, n)
		if !ok {
			return nil, 0, false
		}
		n = next
		if len(line) == 0 {
			return fields, n, true
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			// An obsolete folded continuation of the previous value.
			last := &fields[len(fields)-1]
			last.Value += " " + strings.TrimSpace(string(line))
			continue
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			return nil, 0, false
		}
		fields = append(fields, HeaderField{
			Name:  string(name),
			Value: strings.Trim(string(value), " \t"),
		})
	}
}

// cutLine returns the line of b that starts at off, without its CRLF or
// LF, and the offset of the next line.
func cutLine(b []byte, off int) (line []byte, next int, ok bool) {
	i := bytes.IndexByte(b[off:], '\n')
	if i < 0 {
		return nil, 0, false
	}
	line = b[off : off+i]
	return bytes.TrimSuffix(line, []byte("\r")), off + i + 1, true
}

// chunkedLen returns the length of the chunked body, trailers included, at
// the start of b.
func chunkedLen(b []byte) (int, bool) {
	n := 0
	for {
		line, next, ok := cutLine(b, n)
		if !ok {
			return 0, false
		}
		sizeText, _, _ := bytes.Cut(line, []byte(";"))
		size, err := strconv.ParseInt(strings.TrimSpace(string(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return 0, false
		}
		n = next
		if size == 0 {
			break
		}
		if int64(len(b)-n) < size {
			return 0, false
		}
		n += int(size)
		if _, next, ok = cutLine(b, n); !ok {
			return 0, false
		}
		n = next
	}
	// Trailers, up to an empty line.
	for {
		line, next, ok := cutLine(b, n)
		if !ok {
			return 0, false
		}
		n = next
		if len(line) == 0 {
			return n, true
		}
	}
}
