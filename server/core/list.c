/* Intrusive doubly-linked list; the watch points' handler slots. */
#include <errno.h>
#include "core.h"

void hr_list_append(struct hr_list *list, struct hr_le *le, void *data)
{
	le->list = list;
	le->data = data;
	le->next = NULL;
	le->prev = list->tail;
	if (list->tail)
		list->tail->next = le;
	else
		list->head = le;
	list->tail = le;
	list->n++;
}

void hr_list_unlink(struct hr_le *le)
{
	struct hr_list *list = le->list;

	if (!list)
		return;
	if (le->prev)
		le->prev->next = le->next;
	else
		list->head = le->next;
	if (le->next)
		le->next->prev = le->prev;
	else
		list->tail = le->prev;
	list->n--;
	le->prev = le->next = NULL;
	le->list = NULL;
}

void hr_list_insert_after(struct hr_list *list, struct hr_le *after,
	struct hr_le *le, void *data)
{
	struct hr_le *next = after ? after->next : list->head;

	le->list = list;
	le->data = data;
	le->prev = after;
	le->next = next;
	if (after)
		after->next = le;
	else
		list->head = le;
	if (next)
		next->prev = le;
	else
		list->tail = le;
	list->n++;
}

int hr_watch_add(struct hr_watch *v, unsigned n, hr_watch_fn *h, void *arg)
{
	for (unsigned i = 0; i < n; i++) {
		if (!v[i].h) {
			v[i].h = h;
			v[i].arg = arg;
			return 0;
		}
	}
	return ENOSPC;
}

void hr_watch_del(struct hr_watch *v, unsigned n, hr_watch_fn *h, void *arg)
{
	for (unsigned i = 0; i < n; i++) {
		if (v[i].h == h && v[i].arg == arg)
			v[i] = (struct hr_watch){ 0 };
	}
}
