package webhook

// indexedHeap is a container/heap of items that keep their own place in
// it, so that heap.Fix and heap.Remove can find them. The MemoryStore
// keeps three: each host's pending entries, the hosts, and the finished
// entries. less orders the items; place returns the item's index field,
// which is -1 while the item is out of the heap.
type indexedHeap[T any] struct {
	items []T
	less  func(a, b T) bool
	place func(T) *int
}

func (h *indexedHeap[T]) Len() int           { return len(h.items) }
func (h *indexedHeap[T]) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }

func (h *indexedHeap[T]) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	*h.place(h.items[i]) = i
	*h.place(h.items[j]) = j
}

func (h *indexedHeap[T]) Push(x any) {
	t := x.(T)
	*h.place(t) = len(h.items)
	h.items = append(h.items, t)
}

func (h *indexedHeap[T]) Pop() any {
	n := len(h.items) - 1
	t := h.items[n]
	var zero T
	h.items[n] = zero
	h.items = h.items[:n]
	*h.place(t) = -1
	return t
}
