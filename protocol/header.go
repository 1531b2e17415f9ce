package protocol

// Header returns the header of the response that embeds h, so code that
// handles every response type (an adapter setting ok, type and
// request_id) needs no list of them.
func (h *ResponseHeader) Header() *ResponseHeader { return h }
