/*
 * Users: written like `herald user add` does, each on a connection of its
 * own (a running core hears of each from the database); never a password
 * kept, only its HA1s.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "control_int.h"

_Static_assert(HR_CTL_ROLE_MAX == HR_STORE_ROLE_MAX, "a role's room");

int hr_ctl_user_split(const char *name, char *user, size_t un,
	char *domain, size_t dn)
{
	return hr_user_split(name, user, un, domain, dn);
}

bool hr_ctl_served(const struct hr_control *ctl, const char *domain)
{
	return hr_realm_serves(ctl->cfg.realm, domain);
}

bool hr_ctl_role_valid(const char *role)
{
	enum hr_user_role r;

	return role && !hr_user_role_decode(role, &r);
}

/* The store's user from u, with its HA1s when u has a password. */
static int store_user(struct hr_store_user *su, const struct hr_ctl_user *u,
	char md5[33], char sha[65])
{
	*su = (struct hr_store_user){ .user = u->user, .domain = u->domain,
		.role = u->role };
	if (!u->password)
		return 0;
	su->ha1_md5 = md5;
	su->ha1_sha256 = sha;
	/* the realm is the domain, as for herald user add */
	return hr_digest_ha1s(u->user, u->domain, u->password, md5, sha);
}

int hr_ctl_user_put(struct hr_control *ctl, const struct hr_ctl_user *u,
	bool *created, char role_out[HR_CTL_ROLE_MAX])
{
	struct hr_store_user su;
	char md5[33], sha[65];
	int err = u->password ? store_user(&su, u, md5, sha) : EINVAL;

	return err ? err : hr_store_user_put(ctl->cfg.database_url, &su,
		created, role_out);
}

int hr_ctl_user_update(struct hr_control *ctl, const struct hr_ctl_user *u,
	char role_out[HR_CTL_ROLE_MAX])
{
	struct hr_store_user su;
	char md5[33], sha[65];
	int err = store_user(&su, u, md5, sha);

	return err ? err : hr_store_user_update(ctl->cfg.database_url, &su,
		role_out);
}

int hr_ctl_user_del(struct hr_control *ctl, const char *user,
	const char *domain)
{
	return hr_store_user_del(ctl->cfg.database_url, user, domain);
}

const char *hr_ctl_strerror(int err)
{
	return hr_store_strerror(err);
}

struct userrows {
	hr_ctl_user_h *h;
	void *arg;
};

static int user_row(const struct hr_store_user *u, void *arg)
{
	struct userrows *ur = arg;

	return ur->h(u->user, u->domain, u->role, ur->arg);
}

int hr_ctl_users_page(struct hr_ctl_reader *rd, const char *after_user,
	const char *after_domain, unsigned limit, hr_ctl_user_h *h,
	void *arg)
{
	struct userrows ur = { h, arg };

	return hr_store_users_page(rd->rd, after_user, after_domain, limit,
		user_row, &ur);
}
