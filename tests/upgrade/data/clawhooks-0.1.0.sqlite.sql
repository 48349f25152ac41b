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
INSERT INTO "clawhooks_api_key" VALUES('key_01m95fk28a7sh46nbqr3p146pa','acme','ci','cbk_0.1.0-ap','7bd7298ca70bf3208374fde0cfecffa9c3e71d963f1fc11a0cd85abf72077133','2026-11-20 09:00:00.000000',NULL,NULL);
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
INSERT INTO "clawhooks_attempt" VALUES('att_01m95fk2993ntdmbsszvsz4eg1','del_01m95fk28g7hym22q7w0s232gv',1,'retry',503,41,'HTTP 503','{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:01:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_01m95fk29axk97wpkxjnw8tg7x','del_01m95fk28g7hym22q7w0s232gv',2,'success',200,42,NULL,'{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:02:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_01m95fk29av7s3t1s5xcyn3wpm','del_01m95fk28rp19crz1zz5dyc7xt',1,'success',200,43,NULL,'{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:03:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_01m95fk29a1ky93jzf9q8757s3','del_01m95fk28vb40dxyrbcr1er7jh',1,'success',200,44,NULL,'{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:04:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_01m95fk29a8dembfyhbk366dfg','del_01m95fk28yh0m919155tkc5pa6',1,'success',200,45,NULL,'{"Content-Type": "application/json"}','{"Content-Type": "text/plain"}','OK','2026-11-20 09:05:00.000000');
INSERT INTO "clawhooks_attempt" VALUES('att_01m95fk29amxh806sx5ats3jed','del_01m95fk28grtxf42g1fqvmzn9h',1,'failed',410,12,'HTTP 410','{"Content-Type": "application/json"}','null','Gone','2026-11-20 09:06:00.000000');
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
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk28g7hym22q7w0s232gv','evt_01m95fk28f04hcpncrpt03hdvd','wh_01m95fk282qhcmwzvpwtp7vqkw','message.received','success',2,'2026-12-06 10:49:57.000000',NULL,NULL,200,41,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.291365');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk28grtxf42g1fqvmzn9h','evt_01m95fk28f04hcpncrpt03hdvd','wh_01m95fk2894s7y4sjqp6297fkm','message.received','failed',1,'2026-12-06 10:49:57.000000',NULL,NULL,410,NULL,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.291789');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk28rp19crz1zz5dyc7xt','evt_01m95fk28r1bg40e5v6xmt2bnc','wh_01m95fk282qhcmwzvpwtp7vqkw','message.received','success',1,'2026-12-06 10:49:57.000000',NULL,NULL,200,41,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292077');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk28rgg2vxmzqcekjrcyc','evt_01m95fk28r1bg40e5v6xmt2bnc','wh_01m95fk2894s7y4sjqp6297fkm','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.291999');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk28vb40dxyrbcr1er7jh','evt_01m95fk28vw0zegamxqmrjg9sz','wh_01m95fk282qhcmwzvpwtp7vqkw','message.received','success',1,'2026-12-06 10:49:57.000000',NULL,NULL,200,41,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292330');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk28v7rfnbzvbn5zb3jgy','evt_01m95fk28vw0zegamxqmrjg9sz','wh_01m95fk2894s7y4sjqp6297fkm','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292127');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk28yh0m919155tkc5pa6','evt_01m95fk28xzek3m090yf6mhp0b','wh_01m95fk282qhcmwzvpwtp7vqkw','message.received','success',1,'2026-12-06 10:49:57.000000',NULL,NULL,200,41,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292333');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk28yyr58k8qmrya7xha1','evt_01m95fk28xzek3m090yf6mhp0b','wh_01m95fk2894s7y4sjqp6297fkm','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292524');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk290cwd5vn2bjd9vdfzx','evt_01m95fk290cw7e0v2qf0zhg6ad','wh_01m95fk282qhcmwzvpwtp7vqkw','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292528');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk2900vet9hkn7a01b89a','evt_01m95fk290cw7e0v2qf0zhg6ad','wh_01m95fk2894s7y4sjqp6297fkm','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292526');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk293mecb39nb3qc9dy2z','evt_01m95fk2934x9b5ha2ncaxhcy5','wh_01m95fk282qhcmwzvpwtp7vqkw','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292530');
INSERT INTO "clawhooks_delivery" VALUES('del_01m95fk2935kqdk09s0z1vc79k','evt_01m95fk2934x9b5ha2ncaxhcy5','wh_01m95fk2894s7y4sjqp6297fkm','message.received','pending',0,'2026-11-20 09:00:00.000000',NULL,NULL,NULL,NULL,NULL,'2026-12-06 10:49:57.000000','2026-12-06 10:49:57.292529');
CREATE TABLE clawhooks_event (
	id VARCHAR(40) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	type VARCHAR(100) NOT NULL, 
	created_at DATETIME NOT NULL, 
	body BLOB NOT NULL, 
	CONSTRAINT pk_clawhooks_event PRIMARY KEY (id)
);
INSERT INTO "clawhooks_event" VALUES('evt_01m95fk28f04hcpncrpt03hdvd','acme','message.received','2026-12-06 10:49:57.000000',X'7B226964223A226576745F30316D3935666B32386630346863706E63727074303368647664222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34393A35375A222C2264617461223A7B226D6573736167655F6964223A226D73675F30222C226E223A307D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95fk28r1bg40e5v6xmt2bnc','acme','message.received','2026-12-06 10:49:57.000000',X'7B226964223A226576745F30316D3935666B323872316267343065357636786D7432626E63222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34393A35375A222C2264617461223A7B226D6573736167655F6964223A226D73675F31222C226E223A317D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95fk28vw0zegamxqmrjg9sz','acme','message.received','2026-12-06 10:49:57.000000',X'7B226964223A226576745F30316D3935666B32387677307A6567616D78716D726A6739737A222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34393A35375A222C2264617461223A7B226D6573736167655F6964223A226D73675F32222C226E223A327D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95fk28xzek3m090yf6mhp0b','acme','message.received','2026-12-06 10:49:57.000000',X'7B226964223A226576745F30316D3935666B3238787A656B336D3039307966366D68703062222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34393A35375A222C2264617461223A7B226D6573736167655F6964223A226D73675F33222C226E223A337D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95fk290cw7e0v2qf0zhg6ad','acme','message.received','2026-12-06 10:49:57.000000',X'7B226964223A226576745F30316D3935666B323930637737653076327166307A6867366164222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34393A35375A222C2264617461223A7B226D6573736167655F6964223A226D73675F34222C226E223A347D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95fk2934x9b5ha2ncaxhcy5','acme','message.received','2026-12-06 10:49:57.000000',X'7B226964223A226576745F30316D3935666B32393334783962356861326E63617868637935222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34393A35375A222C2264617461223A7B226D6573736167655F6964223A226D73675F35222C226E223A357D7D');
INSERT INTO "clawhooks_event" VALUES('evt_01m95fk29534ykdjx4jhtf5835','globex','message.received','2026-12-06 10:49:57.000000',X'7B226964223A226576745F30316D3935666B3239353334796B646A78346A68746635383335222C2274797065223A226D6573736167652E7265636569766564222C22637265617465645F6174223A22323032362D31322D30365431303A34393A35375A222C2264617461223A7B226D6573736167655F6964223A226D73675F6F6666227D7D');
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
INSERT INTO "clawhooks_webhook" VALUES('wh_01m95fk282qhcmwzvpwtp7vqkw','acme','http://127.0.0.1:9/hooks','["message.received"]','whsec-active',NULL,NULL,NULL,1,'active',0,NULL,'2026-11-20 09:00:00.000000','2026-11-20 09:00:00.000000');
INSERT INTO "clawhooks_webhook" VALUES('wh_01m95fk2894s7y4sjqp6297fkm','acme','http://127.0.0.1:9/failing','["message.received", "conversation.started"]','whsec-failing',NULL,NULL,'fails',1,'failed',1,'2026-11-20 09:00:00.000000','2026-11-20 09:00:00.000000','2026-11-20 09:00:00.000000');
INSERT INTO "clawhooks_webhook" VALUES('wh_01m95fk289xmxw2at6kx1f60ff','globex','http://127.0.0.1:9/off','["message.received"]','whsec-off',NULL,NULL,NULL,0,'active',0,NULL,'2026-11-20 09:00:00.000000','2026-11-20 09:00:00.000000');
CREATE INDEX ix_clawhooks_webhook_owner ON clawhooks_webhook (owner);
CREATE INDEX ix_clawhooks_event_owner_id ON clawhooks_event (owner, id);
CREATE INDEX ix_clawhooks_api_key_owner ON clawhooks_api_key (owner);
CREATE INDEX ix_clawhooks_delivery_webhook_id ON clawhooks_delivery (webhook_id, id);
CREATE INDEX ix_clawhooks_delivery_due ON clawhooks_delivery (status, next_attempt_at);
CREATE INDEX ix_clawhooks_attempt_delivery ON clawhooks_attempt (delivery_id, number);
COMMIT;
