package proxy

import "github.com/lucid-edge/lucid/internal/policy"

// judge decides one inspected request. The request names its own host
// (Host, :authority), but it travels to the connection's origin, the one
// the CONNECT and the SNI named: a Host or :authority that differs from
// them must not walk the request around the URL rules of the origin that
// will serve it. So the request is judged as it names itself and as each
// of the connection's names would read it, and the strictest decision
// holds (block over inspect over bypass). The common case, a request for
// the connection's own name, is judged once.
func judge(c *conn, req *policy.Request) policy.Decision {
	d := c.h.cfg.Judge(c.log.org, req)
	if d.Action == policy.Block || c.log.plain {
		// A plain http:// request is dialed where it names itself.
		return d
	}
	for _, name := range [2]string{c.log.host, c.log.sni} {
		if name == "" || name == req.Host {
			continue
		}
		as := *req
		as.Host, as.Port = name, c.log.port
		d = policy.Stricter(d, c.h.cfg.Judge(c.log.org, &as))
		if d.Action == policy.Block {
			return d
		}
	}
	return d
}
