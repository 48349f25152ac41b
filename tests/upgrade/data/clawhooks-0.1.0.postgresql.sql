CREATE TABLE clawhooks_api_key (
    id character varying(40) NOT NULL,
    owner character varying(255) NOT NULL,
    name character varying(255),
    prefix character varying(12) NOT NULL,
    key_hash character varying(64) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    last_used_at timestamp without time zone,
    revoked_at timestamp without time zone
);

CREATE TABLE clawhooks_attempt (
    id character varying(40) NOT NULL,
    delivery_id character varying(40) NOT NULL,
    number integer NOT NULL,
    outcome character varying(16) NOT NULL,
    response_code integer,
    response_time_ms integer NOT NULL,
    error text,
    request_headers json NOT NULL,
    response_headers json,
    response_excerpt text,
    created_at timestamp without time zone NOT NULL
);

CREATE TABLE clawhooks_delivery (
    id character varying(40) NOT NULL,
    event_id character varying(40) NOT NULL,
    webhook_id character varying(40) NOT NULL,
    event_type character varying(100) NOT NULL,
    status character varying(16) NOT NULL,
    attempt_count integer NOT NULL,
    next_attempt_at timestamp without time zone,
    lease_token character varying(40),
    lease_until timestamp without time zone,
    response_code integer,
    response_time_ms integer,
    last_error text,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE clawhooks_event (
    id character varying(40) NOT NULL,
    owner character varying(255) NOT NULL,
    type character varying(100) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    body bytea NOT NULL
);

CREATE TABLE clawhooks_webhook (
    id character varying(40) NOT NULL,
    owner character varying(255) NOT NULL,
    url text NOT NULL,
    events json NOT NULL,
    secret character varying(255) NOT NULL,
    previous_secret character varying(255),
    previous_secret_expires_at timestamp without time zone,
    description text,
    enabled boolean NOT NULL,
    status character varying(16) NOT NULL,
    consecutive_failures integer NOT NULL,
    last_failure_email_at timestamp without time zone,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

INSERT INTO clawhooks_api_key VALUES ('key_01m95fk2dk1ent6bhcmfns8n9y', 'acme', 'ci', 'cbk_0.1.0-ap', '7bd7298ca70bf3208374fde0cfecffa9c3e71d963f1fc11a0cd85abf72077133', '2026-11-20 09:00:00', NULL, NULL);

INSERT INTO clawhooks_attempt VALUES ('att_01m95fk2fmdtsz05187jemhds0', 'del_01m95fk2eyq7d977ke8h0ggqag', 1, 'retry', 503, 41, 'HTTP 503', '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:01:00');
INSERT INTO clawhooks_attempt VALUES ('att_01m95fk2fmhhnpg05nzjc1q82s', 'del_01m95fk2eyq7d977ke8h0ggqag', 2, 'success', 200, 42, NULL, '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:02:00');
INSERT INTO clawhooks_attempt VALUES ('att_01m95fk2fm288g8jc2kpg6m3n0', 'del_01m95fk2f3rkhf4gdcsw6vsk17', 1, 'success', 200, 43, NULL, '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:03:00');
INSERT INTO clawhooks_attempt VALUES ('att_01m95fk2fmk9sah6bxea0xbwhe', 'del_01m95fk2f680wr5wa2z3x79f0p', 1, 'success', 200, 44, NULL, '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:04:00');
INSERT INTO clawhooks_attempt VALUES ('att_01m95fk2fmbf9scsqy1chyav2r', 'del_01m95fk2f95gf85pxyssj7d8v8', 1, 'success', 200, 45, NULL, '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:05:00');
INSERT INTO clawhooks_attempt VALUES ('att_01m95fk2fn8qgm822ym5d8y0kf', 'del_01m95fk2eymex8z9khww132dg8', 1, 'failed', 410, 12, 'HTTP 410', '{"Content-Type": "application/json"}', 'null', 'Gone', '2026-11-20 09:06:00');

INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2eymex8z9khww132dg8', 'evt_01m95fk2eyvstgaph1sg2dsw4c', 'wh_01m95fk2dkebp9m7bh40sc3q6a', 'message.received', 'failed', 1, '2026-12-06 10:49:57', NULL, NULL, 410, NULL, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.4941');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2eyq7d977ke8h0ggqag', 'evt_01m95fk2eyvstgaph1sg2dsw4c', 'wh_01m95fk2dkwp68bzzghfyaq12h', 'message.received', 'success', 2, '2026-12-06 10:49:57', NULL, NULL, 200, 41, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.494825');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2f36fyfqe06ghcabw8k', 'evt_01m95fk2f3efjd9m75femxcssj', 'wh_01m95fk2dkebp9m7bh40sc3q6a', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.495371');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2f3rkhf4gdcsw6vsk17', 'evt_01m95fk2f3efjd9m75femxcssj', 'wh_01m95fk2dkwp68bzzghfyaq12h', 'message.received', 'success', 1, '2026-12-06 10:49:57', NULL, NULL, 200, 41, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.495698');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2f66r145vgzf75c66nd', 'evt_01m95fk2f6g2b03qe11ttgsng7', 'wh_01m95fk2dkebp9m7bh40sc3q6a', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.495927');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2f680wr5wa2z3x79f0p', 'evt_01m95fk2f6g2b03qe11ttgsng7', 'wh_01m95fk2dkwp68bzzghfyaq12h', 'message.received', 'success', 1, '2026-12-06 10:49:57', NULL, NULL, 200, 41, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.49634');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2f95gf85pxyssj7d8v8', 'evt_01m95fk2f95mn11r1mzcvkbxnb', 'wh_01m95fk2dkwp68bzzghfyaq12h', 'message.received', 'success', 1, '2026-12-06 10:49:57', NULL, NULL, 200, 41, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.496344');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2f9k8vbnzmjcqcdf1cn', 'evt_01m95fk2f95mn11r1mzcvkbxnb', 'wh_01m95fk2dkebp9m7bh40sc3q6a', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.496989');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2fcds8ck449rd13e600', 'evt_01m95fk2fbsd1a0ztpp89jxh71', 'wh_01m95fk2dkebp9m7bh40sc3q6a', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.496994');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2fcn5vsjqw92gw1k391', 'evt_01m95fk2fbsd1a0ztpp89jxh71', 'wh_01m95fk2dkwp68bzzghfyaq12h', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.496995');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2fe14sxqabjrbdr1knr', 'evt_01m95fk2feg1txtknetnz46jz0', 'wh_01m95fk2dkebp9m7bh40sc3q6a', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.496996');
INSERT INTO clawhooks_delivery VALUES ('del_01m95fk2fegr8z88920c0xjsem', 'evt_01m95fk2feg1txtknetnz46jz0', 'wh_01m95fk2dkwp68bzzghfyaq12h', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:49:57', '2026-12-06 10:49:57.496997');

INSERT INTO clawhooks_event VALUES ('evt_01m95fk2eyvstgaph1sg2dsw4c', 'acme', 'message.received', '2026-12-06 10:49:57', '\x7b226964223a226576745f30316d3935666b32657976737467617068317367326473773463222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34393a35375a222c2264617461223a7b226d6573736167655f6964223a226d73675f30222c226e223a307d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95fk2f3efjd9m75femxcssj', 'acme', 'message.received', '2026-12-06 10:49:57', '\x7b226964223a226576745f30316d3935666b32663365666a64396d373566656d786373736a222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34393a35375a222c2264617461223a7b226d6573736167655f6964223a226d73675f31222c226e223a317d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95fk2f6g2b03qe11ttgsng7', 'acme', 'message.received', '2026-12-06 10:49:57', '\x7b226964223a226576745f30316d3935666b326636673262303371653131747467736e6737222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34393a35375a222c2264617461223a7b226d6573736167655f6964223a226d73675f32222c226e223a327d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95fk2f95mn11r1mzcvkbxnb', 'acme', 'message.received', '2026-12-06 10:49:57', '\x7b226964223a226576745f30316d3935666b326639356d6e313172316d7a63766b62786e62222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34393a35375a222c2264617461223a7b226d6573736167655f6964223a226d73675f33222c226e223a337d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95fk2fbsd1a0ztpp89jxh71', 'acme', 'message.received', '2026-12-06 10:49:57', '\x7b226964223a226576745f30316d3935666b32666273643161307a74707038396a78683731222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34393a35375a222c2264617461223a7b226d6573736167655f6964223a226d73675f34222c226e223a347d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95fk2feg1txtknetnz46jz0', 'acme', 'message.received', '2026-12-06 10:49:57', '\x7b226964223a226576745f30316d3935666b32666567317478746b6e65746e7a34366a7a30222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34393a35375a222c2264617461223a7b226d6573736167655f6964223a226d73675f35222c226e223a357d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95fk2fgwnv3ssh13xh1v387', 'globex', 'message.received', '2026-12-06 10:49:57', '\x7b226964223a226576745f30316d3935666b326667776e7633737368313378683176333837222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34393a35375a222c2264617461223a7b226d6573736167655f6964223a226d73675f6f6666227d7d');

INSERT INTO clawhooks_webhook VALUES ('wh_01m95fk2dkwp68bzzghfyaq12h', 'acme', 'http://127.0.0.1:9/hooks', '["message.received"]', 'whsec-active', NULL, NULL, NULL, true, 'active', 0, NULL, '2026-11-20 09:00:00', '2026-11-20 09:00:00');
INSERT INTO clawhooks_webhook VALUES ('wh_01m95fk2dkebp9m7bh40sc3q6a', 'acme', 'http://127.0.0.1:9/failing', '["message.received", "conversation.started"]', 'whsec-failing', NULL, NULL, 'fails', true, 'failed', 1, '2026-11-20 09:00:00', '2026-11-20 09:00:00', '2026-11-20 09:00:00');
INSERT INTO clawhooks_webhook VALUES ('wh_01m95fk2dkbffh4vs4sst6131d', 'globex', 'http://127.0.0.1:9/off', '["message.received"]', 'whsec-off', NULL, NULL, NULL, false, 'active', 0, NULL, '2026-11-20 09:00:00', '2026-11-20 09:00:00');

ALTER TABLE ONLY clawhooks_api_key
    ADD CONSTRAINT pk_clawhooks_api_key PRIMARY KEY (id);

ALTER TABLE ONLY clawhooks_attempt
    ADD CONSTRAINT pk_clawhooks_attempt PRIMARY KEY (id);

ALTER TABLE ONLY clawhooks_delivery
    ADD CONSTRAINT pk_clawhooks_delivery PRIMARY KEY (id);

ALTER TABLE ONLY clawhooks_event
    ADD CONSTRAINT pk_clawhooks_event PRIMARY KEY (id);

ALTER TABLE ONLY clawhooks_webhook
    ADD CONSTRAINT pk_clawhooks_webhook PRIMARY KEY (id);

ALTER TABLE ONLY clawhooks_api_key
    ADD CONSTRAINT uq_clawhooks_api_key_key_hash UNIQUE (key_hash);

ALTER TABLE ONLY clawhooks_delivery
    ADD CONSTRAINT uq_clawhooks_delivery_event_webhook UNIQUE (event_id, webhook_id);

CREATE INDEX ix_clawhooks_api_key_owner ON clawhooks_api_key USING btree (owner);

CREATE INDEX ix_clawhooks_attempt_delivery ON clawhooks_attempt USING btree (delivery_id, number);

CREATE INDEX ix_clawhooks_delivery_due ON clawhooks_delivery USING btree (status, next_attempt_at);

CREATE INDEX ix_clawhooks_delivery_webhook_id ON clawhooks_delivery USING btree (webhook_id, id);

CREATE INDEX ix_clawhooks_event_owner_id ON clawhooks_event USING btree (owner, id);

CREATE INDEX ix_clawhooks_webhook_owner ON clawhooks_webhook USING btree (owner);

ALTER TABLE ONLY clawhooks_attempt
    ADD CONSTRAINT fk_clawhooks_attempt_delivery_id_clawhooks_delivery FOREIGN KEY (delivery_id) REFERENCES clawhooks_delivery(id) ON DELETE CASCADE;

ALTER TABLE ONLY clawhooks_delivery
    ADD CONSTRAINT fk_clawhooks_delivery_event_id_clawhooks_event FOREIGN KEY (event_id) REFERENCES clawhooks_event(id) ON DELETE CASCADE;

ALTER TABLE ONLY clawhooks_delivery
    ADD CONSTRAINT fk_clawhooks_delivery_webhook_id_clawhooks_webhook FOREIGN KEY (webhook_id) REFERENCES clawhooks_webhook(id) ON DELETE CASCADE;
