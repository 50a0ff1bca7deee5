-- Each subscription's ownership has an epoch (issue 21): it grows at each
-- move from one node to another (a refresh that reached another node, a
-- dead node's subscriptions taken over). A node's writes of a
-- subscription carry the epoch it holds: the CSeq reservation and the
-- row's update fail (HR409) once the row's epoch has moved on, and a
-- delete does nothing, so that a node that lost a subscription can
-- neither notify past the CSeqs it had nor undo the new owner's row.
ALTER TABLE subscriptions ADD COLUMN owner_epoch bigint NOT NULL DEFAULT 0;

-- The last move of one of its subscriptions away from it that the node
-- has let go of: it sends nothing for them any more. The new owner
-- answers the request that moved it, and notifies, only then (or once
-- the old owner's lease has run out).
ALTER TABLE nodes ADD COLUMN released bigint NOT NULL DEFAULT 0;

CREATE FUNCTION herald_not_owner(id text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'subscription % moved to another node', id
		USING ERRCODE = 'HR409';
END
$$;
