DROP TABLE pending_approvals;
