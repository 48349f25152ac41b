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

INSERT INTO clawhooks_api_key VALUES ('key_010', 'acme', 'ci', 'cbk_0100000', '7bd7298ca70bf3208374fde0cfecffa9c3e71d963f1fc11a0cd85abf72077133', '2026-11-20 09:00:00', NULL, NULL);

INSERT INTO clawhooks_attempt VALUES ('att_010_01', 'del_01m95f8gr7bv0tcm328p4bwk8m', 1, 'retry', 503, 41, 'HTTP 503', '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:01:00');
INSERT INTO clawhooks_attempt VALUES ('att_010_02', 'del_01m95f8gr7bv0tcm328p4bwk8m', 2, 'success', 200, 42, NULL, '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:02:00');
INSERT INTO clawhooks_attempt VALUES ('att_010_03', 'del_01m95f8grn79bvhphcaaf802wd', 1, 'success', 200, 43, NULL, '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:03:00');
INSERT INTO clawhooks_attempt VALUES ('att_010_04', 'del_01m95f8gsm0edbdfp1ztdy9ezp', 1, 'success', 200, 44, NULL, '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:04:00');
INSERT INTO clawhooks_attempt VALUES ('att_010_05', 'del_01m95f8gt60a7051v9x476z5dr', 1, 'success', 200, 45, NULL, '{"Content-Type": "application/json"}', '{"Content-Type": "text/plain"}', 'OK', '2026-11-20 09:05:00');
INSERT INTO clawhooks_attempt VALUES ('att_010_06', 'del_01m95f8gr7ja5x6yqhhjdef3nq', 1, 'failed', 410, 12, 'HTTP 410', '{"Content-Type": "application/json"}', 'null', 'Gone', '2026-11-20 09:06:00');

INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gr7bv0tcm328p4bwk8m', 'evt_01m95f8gr2cgme59t2pynxj174', 'wh_010_active', 'message.received', 'success', 2, '2026-12-06 10:44:11', NULL, NULL, 200, 41, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.767784');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gr7ja5x6yqhhjdef3nq', 'evt_01m95f8gr2cgme59t2pynxj174', 'wh_010_failing', 'message.received', 'failed', 1, '2026-12-06 10:44:11', NULL, NULL, 410, NULL, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.77388');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8grn64xgz2whx7mbt9nr', 'evt_01m95f8grfay0yw28n204fh7nk', 'wh_010_failing', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.774741');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8grn79bvhphcaaf802wd', 'evt_01m95f8grfay0yw28n204fh7nk', 'wh_010_active', 'message.received', 'success', 1, '2026-12-06 10:44:11', NULL, NULL, 200, 41, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.782891');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gsm0edbdfp1ztdy9ezp', 'evt_01m95f8gshm32jdwhetjc9evp8', 'wh_010_active', 'message.received', 'success', 1, '2026-12-06 10:44:11', NULL, NULL, 200, 41, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.782897');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gsmb9fxzqtkkhnv3fz5', 'evt_01m95f8gshm32jdwhetjc9evp8', 'wh_010_failing', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.875962');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gt60a7051v9x476z5dr', 'evt_01m95f8gt5x3zfrac0tg62v5vv', 'wh_010_active', 'message.received', 'success', 1, '2026-12-06 10:44:11', NULL, NULL, 200, 41, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.885686');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gt6sy6dzz98fcecy5ez', 'evt_01m95f8gt5x3zfrac0tg62v5vv', 'wh_010_failing', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.887441');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gv4mz514b8temxs3grz', 'evt_01m95f8gv3q93g3n0nk9tx41d8', 'wh_010_active', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.887448');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gv4sjpnhtf8zt9x0qfx', 'evt_01m95f8gv3q93g3n0nk9tx41d8', 'wh_010_failing', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.88745');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gv818vcysj98h63q5pz', 'evt_01m95f8gv7dfc0fk7c8ce9z6e9', 'wh_010_failing', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.887452');
INSERT INTO clawhooks_delivery VALUES ('del_01m95f8gv8a2xjej4necya61sn', 'evt_01m95f8gv7dfc0fk7c8ce9z6e9', 'wh_010_active', 'message.received', 'pending', 0, '2026-11-20 09:00:00', NULL, NULL, NULL, NULL, NULL, '2026-12-06 10:44:11', '2026-12-06 10:44:11.887453');

INSERT INTO clawhooks_event VALUES ('evt_01m95f8gr2cgme59t2pynxj174', 'acme', 'message.received', '2026-12-06 10:44:11', '\x7b226964223a226576745f30316d3935663867723263676d653539743270796e786a313734222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34343a31315a222c2264617461223a7b226d6573736167655f6964223a226d73675f30222c226e223a307d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95f8grfay0yw28n204fh7nk', 'acme', 'message.received', '2026-12-06 10:44:11', '\x7b226964223a226576745f30316d39356638677266617930797732386e3230346668376e6b222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34343a31315a222c2264617461223a7b226d6573736167655f6964223a226d73675f31222c226e223a317d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95f8gshm32jdwhetjc9evp8', 'acme', 'message.received', '2026-12-06 10:44:11', '\x7b226964223a226576745f30316d393566386773686d33326a64776865746a633965767038222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34343a31315a222c2264617461223a7b226d6573736167655f6964223a226d73675f32222c226e223a327d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95f8gt5x3zfrac0tg62v5vv', 'acme', 'message.received', '2026-12-06 10:44:11', '\x7b226964223a226576745f30316d3935663867743578337a66726163307467363276357676222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34343a31315a222c2264617461223a7b226d6573736167655f6964223a226d73675f33222c226e223a337d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95f8gv3q93g3n0nk9tx41d8', 'acme', 'message.received', '2026-12-06 10:44:11', '\x7b226964223a226576745f30316d3935663867763371393367336e306e6b39747834316438222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34343a31315a222c2264617461223a7b226d6573736167655f6964223a226d73675f34222c226e223a347d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95f8gv7dfc0fk7c8ce9z6e9', 'acme', 'message.received', '2026-12-06 10:44:11', '\x7b226964223a226576745f30316d3935663867763764666330666b3763386365397a366539222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34343a31315a222c2264617461223a7b226d6573736167655f6964223a226d73675f35222c226e223a357d7d');
INSERT INTO clawhooks_event VALUES ('evt_01m95f8gvcwsegfkqtcy8pwmn2', 'globex', 'message.received', '2026-12-06 10:44:11', '\x7b226964223a226576745f30316d3935663867766377736567666b717463793870776d6e32222c2274797065223a226d6573736167652e7265636569766564222c22637265617465645f6174223a22323032362d31322d30365431303a34343a31315a222c2264617461223a7b226d6573736167655f6964223a226d73675f6f6666227d7d');

INSERT INTO clawhooks_webhook VALUES ('wh_010_active', 'acme', 'http://127.0.0.1:9/hooks', '["message.received"]', 'whsec-active', NULL, NULL, NULL, true, 'active', 0, NULL, '2026-11-20 09:00:00', '2026-11-20 09:00:00');
INSERT INTO clawhooks_webhook VALUES ('wh_010_failing', 'acme', 'http://127.0.0.1:9/failing', '["message.received", "conversation.started"]', 'whsec-failing', NULL, NULL, 'fails', true, 'failed', 1, '2026-11-20 09:00:00', '2026-11-20 09:00:00', '2026-11-20 09:00:00');
INSERT INTO clawhooks_webhook VALUES ('wh_010_off', 'globex', 'http://127.0.0.1:9/off', '["message.received"]', 'whsec-off', NULL, NULL, NULL, false, 'active', 0, NULL, '2026-11-20 09:00:00', '2026-11-20 09:00:00');

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
