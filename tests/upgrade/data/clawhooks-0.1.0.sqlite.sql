BEGIN TRANSACTION;
CREATE TABLE clawhooks_api_key (
	id VARCHAR(40) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	name VARCHAR(255), 
	prefix VARCHAR(12) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_used_at DATETIME, 
	revoked_at DATETIME, 
	CONSTRAINT pk_clawhooks_api_key PRIMARY KEY (id), 
	CONSTRAINT uq_clawhooks_api_key_key_hash UNIQUE (key_hash)
);
INSERT INTO "clawhooks_api_key" VALUES('key_010','acme','ci','cbk_0100000','7bd7298ca70bf3208374fde0cfecffa9c3e71d963f1fc11a0cd85abf72077133','2026-11-20 09:00:00.000000',NULL,NULL);
CREATE TABLE clawhooks_attempt (
	id VARCHAR(40) NOT NULL, 
	delivery_id VARCHAR(40) NOT NULL, 
	number INTEGER NOT NULL, 
	outcome VARCHAR(16) NOT NULL, 
	response_code INTEGER, 
	response_time_ms INTEGER NOT NULL, 
	error TEXT, 
	request_headers JSON NOT NULL, 
	response_headers JSON, 
	response_excerpt TEXT, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_clawhooks_attempt PRIMARY KEY (id), 
	CONSTRAINT fk_clawhooks_attempt_delivery_id_clawhooks_delivery FOREIGN KEY(delivery_id) REFERENCES clawhooks_delivery (id) ON DELETE CASCADE
);
INSERT INTO "clawhooks_attempt" VALUES('att_010_01','del_01m95f8f9v0kjp81b6hcxzkfrn',1,'retry',503,41,'HTTP 503','{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:01:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_010_02','del_01m95f8f9v0kjp81b6hcxzkfrn',2,'success',200,42,NULL,'{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:02:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_010_03','del_01m95f8fbks8f5erfprx96a63x',1,'success',200,43,NULL,'{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:03:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_010_04','del_01m95f8fgyjhm3ny434e3jshcx',1,'success',200,44,NULL,'{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:04:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_010_05','del_01m95f8fk45f581xypeeb547ee',1,'success',200,45,NULL,'{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:05:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_010_06','del_01m95f8f9vkz10a4p8kf0g6ns9',1,'failed',410,12,'HTTP 410','{"Content-Type": "application/json"}','null','Gone','2026-11-20 09:06:00.000000');
CREATE TABLE clawhooks_delivery (
	id VARCHAR(40) NOT NULL, 
	event_id VARCHAR(40) NOT NULL, 
	webhook_id VARCHAR(40) NOT NULL, 
	event_type VARCHAR(100) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempt_count INTEGER NOT NULL, 
	next_attempt_at DATETIME, 
	lease_token VARCHAR(40), 
	lease_until DATETIME, 
	response_code INTEGER, 
	response_time_ms INTEGER, 
	last_error TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_clawhooks_delivery PRIMARY KEY (id), 
	CONSTRAINT uq_clawhooks_delivery_event_webhook UNIQUE (event_id, webhook_id), 
	CONSTRAINT fk_clawhooks_delivery_event_id_clawhooks_event FOREIGN KEY(event_id) REFERENCES clawhooks_event (id) ON DELETE CASCADE, 
	CONSTRAINT fk_clawhooks_delivery_webhook_id_clawhooks_webhook FOREIGN KEY(webhook_id) REFERENCES clawhooks_webhook (id) ON DELETE CASCADE
);
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8f9v0kjp81b6hcxzkfrn','evt_01m95f8f9mk5jdpmjwpc3ngs1q','wh_010_active','message.received','success',2,'2026-12-06 10:44:10.000000',NULL,NULL,200,41,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.566079');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8f9vkz10a4p8kf0g6ns9','evt_01m95f8f9mk5jdpmjwpc3ngs1q','wh_010_failing','message.received','failed',1,'2026-12-06 10:44:10.000000',NULL,NULL,410,NULL,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.566714');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fbks8f5erfprx96a63x','evt_01m95f8fbjngg5b95r6qabb5jf','wh_010_active','message.received','success',1,'2026-12-06 10:44:10.000000',NULL,NULL,200,41,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.566827');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fe6nr2yyvpd9m179gmh','evt_01m95f8fbjngg5b95r6qabb5jf','wh_010_failing','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567041');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fgyjhm3ny434e3jshcx','evt_01m95f8fgyx5q3d8fj9ase5tth','wh_010_active','message.received','success',1,'2026-12-06 10:44:10.000000',NULL,NULL,200,41,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567452');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fgyfrwft94x4dhg90az','evt_01m95f8fgyx5q3d8fj9ase5tth','wh_010_failing','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567044');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fk45f581xypeeb547ee','evt_01m95f8fk3pm66v4zrhavq5spw','wh_010_active','message.received','success',1,'2026-12-06 10:44:10.000000',NULL,NULL,200,41,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567459');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fk47ysxf5z2vcmjwsgp','evt_01m95f8fk3pm66v4zrhavq5spw','wh_010_failing','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567588');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fm312rdskznk1ev8t1z','evt_01m95f8fm2262gqq42mq5y2kwv','wh_010_active','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567590');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fm3jhh3z6k1p5wrp125','evt_01m95f8fm2262gqq42mq5y2kwv','wh_010_failing','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567591');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fmqy7jcyycdm6vfbt5k','evt_01m95f8fmqrtn9fa7jhgkzn3jk','wh_010_active','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567594');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95f8fmqrg8ztm9dvxrkyc1c','evt_01m95f8fmqrtn9fa7jhgkzn3jk','wh_010_failing','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:44:10.000000','2026-12-06 10:44:10.567593');
CREATE TABLE clawhooks_event (
	id VARCHAR(40) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	type VARCHAR(100) NOT NULL, 
	created_at DATETIME NOT NULL, 
	body BLOB NOT NULL, 
	CONSTRAINT pk_clawhooks_event PRIMARY KEY (id)
);
INSERT INTO "clawhooks_event" VALUES('evt_01m95f8f9mk5jdpmjwpc3ngs1q','acme','message.received','2026-12-06 10:44:10.000000',X'7B226964223A226576745F30316D3935663866396D6B356A64706D6A777063336E67733171222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34343A31305A222C2264617461223A7B226D6573736167655F6964223A226D73675F30222C226E223A307D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95f8fbjngg5b95r6qabb5jf','acme','message.received','2026-12-06 10:44:10.000000',X'7B226964223A226576745F30316D3935663866626A6E676735623935723671616262356A66222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34343A31305A222C2264617461223A7B226D6573736167655F6964223A226D73675F31222C226E223A317D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95f8fgyx5q3d8fj9ase5tth','acme','message.received','2026-12-06 10:44:10.000000',X'7B226964223A226576745F30316D39356638666779783571336438666A3961736535747468222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34343A31305A222C2264617461223A7B226D6573736167655F6964223A226D73675F32222C226E223A327D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95f8fk3pm66v4zrhavq5spw','acme','message.received','2026-12-06 10:44:10.000000',X'7B226964223A226576745F30316D39356638666B33706D363676347A726861767135737077222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34343A31305A222C2264617461223A7B226D6573736167655F6964223A226D73675F33222C226E223A337D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95f8fm2262gqq42mq5y2kwv','acme','message.received','2026-12-06 10:44:10.000000',X'7B226964223A226576745F30316D39356638666D3232363267717134326D713579326B7776222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34343A31305A222C2264617461223A7B226D6573736167655F6964223A226D73675F34222C226E223A347D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95f8fmqrtn9fa7jhgkzn3jk','acme','message.received','2026-12-06 10:44:10.000000',X'7B226964223A226576745F30316D39356638666D7172746E396661376A68676B7A6E336A6B222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34343A31305A222C2264617461223A7B226D6573736167655F6964223A226D73675F35222C226E223A357D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95f8fnfcjawcqrjx4sy1rny','globex','message.received','2026-12-06 10:44:10.000000',X'7B226964223A226576745F30316D39356638666E66636A61776371726A7834737931726E79222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34343A31305A222C2264617461223A7B226D6573736167655F6964223A226D73675F6F6666227D7D');
CREATE TABLE clawhooks_webhook (
	id VARCHAR(40) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	url TEXT NOT NULL, 
	events JSON NOT NULL, 
	secret VARCHAR(255) NOT NULL, 
	previous_secret VARCHAR(255), 
	previous_secret_expires_at DATETIME, 
	description TEXT, 
	enabled BOOLEAN NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	consecutive_failures INTEGER NOT NULL, 
	last_failure_email_at DATETIME, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_clawhooks_webhook PRIMARY KEY (id)
);
INSERT INTO "clawhooks_webhook" VALUES('wh_010_active','acme','http://127.0.0.1:9/hooks','["message.received"]','whsec-active',NULL,NULL,NULL,1,'active',0,NULL,'2026-11-20 09:00:00.000000','2026-11-20 09:00:00.000000');
INSERT INTO "clawhooks_webhook" VALUES('wh_010_failing','acme','http://127.0.0.1:9/failing','["message.received", "conversation.started"]','whsec-failing',NULL,NULL,'fails',1,'failed',1,'2026-11-20 09:00:00.000000','2026-11-20 09:00:00.000000','2026-11-20 09:00:00.000000');
INSERT INTO "clawhooks_webhook" VALUES('wh_010_off','globex','http://127.0.0.1:9/off','["message.received"]','whsec-off',NULL,NULL,NULL,0,'active',0,NULL,'2026-11-20 09:00:00.000000','2026-11-20 09:00:00.000000');
CREATE INDEX ix_clawhooks_webhook_owner ON clawhooks_webhook (owner);
CREATE INDEX ix_clawhooks_event_owner_id ON clawhooks_event (owner, id);
CREATE INDEX ix_clawhooks_api_key_owner ON clawhooks_api_key (owner);
CREATE INDEX ix_clawhooks_delivery_webhook_id ON clawhooks_delivery (webhook_id, id);
CREATE INDEX ix_clawhooks_delivery_due ON clawhooks_delivery (status, next_attempt_at);
CREATE INDEX ix_clawhooks_attempt_delivery ON clawhooks_attempt (delivery_id, number);
COMMIT;
