-- The case store's tables as the code before Alembic created them on postgresql (metadata.create_all in
-- queue/schema.py, commits a46e1f1 to 13b79c6: the review app's schema): tests/queue/test_migrations.py

CREATE TABLE audit_log (
	id BIGSERIAL NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	actor VARCHAR(255) NOT NULL,
	action VARCHAR(64) NOT NULL,
	case_id BIGINT,
	detail JSON,
	PRIMARY KEY (id)
);

CREATE INDEX ix_audit_actor_action_time ON audit_log (actor, action, at);

CREATE INDEX ix_audit_case ON audit_log (case_id);

CREATE TABLE cases (
	id BIGSERIAL NOT NULL,
	case_key VARCHAR(1024) NOT NULL,
	url TEXT NOT NULL,
	domain TEXT NOT NULL,
	title TEXT NOT NULL,
	excerpt TEXT NOT NULL,
	first_seen TIMESTAMP WITH TIME ZONE NOT NULL,
	last_seen TIMESTAMP WITH TIME ZONE NOT NULL,
	report_count INTEGER NOT NULL,
	score FLOAT,
	label INTEGER,
	category VARCHAR(32),
	category_probability FLOAT,
	priority FLOAT,
	language VARCHAR(32) NOT NULL,
	evidence JSON,
	contacts JSON,
	cluster_id VARCHAR(200) NOT NULL,
	cluster_size INTEGER NOT NULL,
	status VARCHAR(16) NOT NULL,
	model_name VARCHAR(255) NOT NULL,
	model_version VARCHAR(255) NOT NULL,
	last_run_id VARCHAR(200) NOT NULL,
	last_status VARCHAR(16) NOT NULL,
	last_error TEXT NOT NULL,
	text TEXT,
	version INTEGER DEFAULT 0 NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (case_key)
);

CREATE INDEX ix_cases_cluster ON cases (cluster_id);

CREATE INDEX ix_cases_priority ON cases (priority);

CREATE INDEX ix_cases_status_priority ON cases (status, priority);

CREATE TABLE runs (
	run_id VARCHAR(200) NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	finished_at TIMESTAMP WITH TIME ZONE,
	model_name VARCHAR(255) NOT NULL,
	model_version VARCHAR(255) NOT NULL,
	inputs JSON,
	summary JSON,
	threshold FLOAT,
	PRIMARY KEY (run_id)
);

CREATE TABLE users (
	id BIGSERIAL NOT NULL,
	username VARCHAR(64) NOT NULL,
	password_hash VARCHAR(255) NOT NULL,
	role VARCHAR(16) NOT NULL,
	active BOOLEAN NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	created_by VARCHAR(255) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (username)
);

CREATE TABLE decisions (
	id BIGSERIAL NOT NULL,
	case_id BIGINT NOT NULL,
	decision VARCHAR(16) NOT NULL,
	expert VARCHAR(255) NOT NULL,
	comment TEXT NOT NULL,
	decided_at TIMESTAMP WITH TIME ZONE NOT NULL,
	score FLOAT,
	model_version VARCHAR(255) NOT NULL,
	category VARCHAR(32),
	PRIMARY KEY (id),
	FOREIGN KEY(case_id) REFERENCES cases (id) ON DELETE CASCADE
);

CREATE INDEX ix_decisions_case ON decisions (case_id);

CREATE INDEX ix_decisions_time ON decisions (decided_at);

CREATE TABLE scores (
	id BIGSERIAL NOT NULL,
	case_id BIGINT NOT NULL,
	record_id VARCHAR(200) NOT NULL,
	run_id VARCHAR(200) NOT NULL,
	model_name VARCHAR(255) NOT NULL,
	model_version VARCHAR(255) NOT NULL,
	score FLOAT,
	label INTEGER,
	category VARCHAR(32),
	category_probability FLOAT,
	priority FLOAT,
	rank INTEGER,
	cluster_id VARCHAR(200) NOT NULL,
	cluster_size INTEGER NOT NULL,
	status VARCHAR(16) NOT NULL,
	error TEXT NOT NULL,
	scored_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_scores_run_record UNIQUE (run_id, record_id),
	FOREIGN KEY(case_id) REFERENCES cases (id) ON DELETE CASCADE,
	FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_scores_case_record ON scores (case_id, record_id);

CREATE TABLE sessions (
	token_hash VARCHAR(64) NOT NULL,
	user_id BIGINT NOT NULL,
	csrf_token VARCHAR(64) NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (token_hash),
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX ix_sessions_user ON sessions (user_id);
